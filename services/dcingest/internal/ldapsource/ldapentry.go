package ldapsource

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Attributes read over LDAP. A normal domain user may read all of them.
var (
	accountAttributes = []string{"objectSid", "objectGUID", "sAMAccountName", "userPrincipalName", "dNSHostName",
		"servicePrincipalName", "userAccountControl", "memberOf", "adminCount", "whenChanged", "uSNChanged",
		"distinguishedName", "displayName", "objectClass", "primaryGroupID"}
	groupAttributes   = []string{"objectSid", "objectGUID", "cn", "member", "memberOf", "distinguishedName", "objectClass"}
	deletedAttributes = []string{"objectGUID", "objectSid", "objectClass", "isDeleted"}
)

// LDAP filters of what is synced. Computers are users to AD (objectClass computer derives from
// user), so the account filter takes both.
const (
	accountFilter = "(|(objectClass=user)(objectClass=computer))"
	groupFilter   = "(objectClass=group)"
)

// showDeleted is the LDAP_SERVER_SHOW_DELETED_OID control: searches also return tombstones.
// It is not critical: a server without it returns no tombstones, and deletions wait for the
// next full sync instead of failing every incremental one.
var showDeleted = ldap.NewControlString("1.2.840.113556.1.4.417", false, "")

// account is a user or computer as read over LDAP, with what deciding its privilege needs
// beyond the Entity.
type account struct {
	entity       *adjoinv1.Entity
	adminCount   bool
	primaryGroup string // SID of the primary group (primaryGroupID), which memberOf leaves out
}

// group is a group as read over LDAP. DNs are lower-cased.
type group struct {
	dn       string
	guid     string
	sid      string
	cn       string
	memberOf []string
	members  []string
}

// recordOf turns an LDAP entry into the record the LDIF mapping reads: raw values, binary
// for objectSid and objectGUID, attribute names lower-cased and without options.
func recordOf(e *ldap.Entry) *record {
	r := &record{dn: e.DN, attrs: make(map[string][]attrValue, len(e.Attributes))}
	for _, a := range e.Attributes {
		name := strings.ToLower(a.Name)
		if i := strings.IndexByte(name, ';'); i >= 0 {
			name = name[:i]
		}
		binary := name == "objectsid" || name == "objectguid"
		for _, v := range a.ByteValues {
			r.attrs[name] = append(r.attrs[name], attrValue{val: v, b64: binary})
		}
	}
	return r
}

// accountOf maps an LDAP user or computer; it returns nil for anything else.
func accountOf(e *ldap.Entry, opts Options) (*account, error) {
	r := recordOf(e)
	ent, err := r.toEntity(opts)
	if err != nil || ent == nil {
		return nil, err
	}
	a := &account{entity: ent}
	n, _, err := r.integer("admincount", "adminCount", -1<<31, 1<<31-1)
	if err != nil {
		return nil, err
	}
	a.adminCount = n > 0
	rid, ok, err := r.integer("primarygroupid", "primaryGroupID", 0, 1<<32-1)
	if err != nil {
		return nil, err
	}
	if i := strings.LastIndexByte(ent.GetSid(), '-'); ok && i > 0 {
		a.primaryGroup = ent.GetSid()[:i+1] + strconv.FormatInt(rid, 10)
	}
	return a, nil
}

// groupOf maps an LDAP group.
func groupOf(e *ldap.Entry) (*group, error) {
	r := recordOf(e)
	g := &group{dn: strings.ToLower(e.DN)}
	var err error
	if g.sid, err = r.sid(); err != nil {
		return nil, err
	}
	if g.guid, err = r.guid(); err != nil {
		return nil, err
	}
	if g.guid == "" {
		return nil, fmt.Errorf("group %q has no objectGUID", e.DN)
	}
	g.cn = strings.ToLower(e.GetAttributeValue("cn"))
	if g.cn == "" {
		g.cn = strings.ToLower(firstRDNValue(e.DN))
	}
	g.memberOf = lowerAll(e.GetEqualFoldAttributeValues("memberOf"))
	g.members = lowerAll(e.GetEqualFoldAttributeValues("member"))
	return g, nil
}

// tombstoneKey is the entity key of a deleted object (its objectGUID, else its SID), and
// whether it was a group.
func tombstoneKey(e *ldap.Entry) (key string, isGroup bool, err error) {
	r := recordOf(e)
	ent := &adjoinv1.Entity{}
	if ent.Sid, err = r.sid(); err != nil {
		return "", false, err
	}
	if ent.ObjectGuid, err = r.guid(); err != nil {
		return "", false, err
	}
	return entity.Key(ent), isGroupEntry(e), nil
}

func isGroupEntry(e *ldap.Entry) bool {
	for _, c := range e.GetEqualFoldAttributeValues("objectClass") {
		if strings.EqualFold(c, "group") {
			return true
		}
	}
	return false
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}

// underDN reports whether the lower-case dn is base or below it.
func underDN(dn, base string) bool {
	base = strings.ToLower(base)
	return dn == base || strings.HasSuffix(dn, ","+base)
}
