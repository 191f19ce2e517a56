package ldapsource

import (
	"fmt"
	"sort"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// changes is what an incremental sync read, before anything is applied.
type changes struct {
	accounts []*account
	dns      []string // lower-case DNs of accounts, parallel to accounts
	groups   []*group
	deleted  []string // keys of deleted accounts
	deletedG []string // objectGUIDs of deleted groups
}

func (st *ldapState) incremental(conn *ldapConn, root rootDSE) (*SyncResult, error) {
	res := &SyncResult{Kind: KindIncremental, Server: root.server, USN: root.usn}
	if root.usn == st.usn {
		st.count(res)
		return res, nil
	}
	since := fmt.Sprintf("(uSNChanged>=%d)", st.usn+1)
	var ch changes
	accounts, err := conn.search(st.root, "(&"+accountFilter+since+")", accountAttributes)
	if err != nil {
		return nil, err
	}
	groups, err := conn.search(st.root, "(&"+groupFilter+since+")", groupAttributes)
	if err != nil {
		return nil, err
	}
	// Tombstones are visible only to accounts allowed to list CN=Deleted Objects; for the
	// others the search returns nothing and the next full sync removes what is gone.
	deleted, err := conn.search(st.root, "(&(isDeleted=TRUE)"+since+")", deletedAttributes, showDeleted)
	if err != nil {
		return nil, err
	}
	if err := ch.add(append(accounts, groups...), st.opts); err != nil {
		return nil, err
	}
	for _, e := range deleted {
		key, isGroup, err := tombstoneKey(e)
		if err != nil {
			return nil, err
		}
		if isGroup {
			ch.deletedG = append(ch.deletedG, key)
		} else if key != "" {
			ch.deleted = append(ch.deleted, key)
		}
	}
	more, err := conn.readDNs(st.root, st.membersToReread(&ch))
	if err != nil {
		return nil, err
	}
	if err := ch.add(more, st.opts); err != nil {
		return nil, err
	}
	st.apply(&ch, res)
	st.usn = root.usn
	st.count(res)
	return res, nil
}

// add sorts entries into accounts and groups.
func (ch *changes) add(entries []*ldap.Entry, opts Options) error {
	for _, e := range entries {
		if isGroupEntry(e) {
			g, err := groupOf(e)
			if err != nil {
				return err
			}
			ch.groups = append(ch.groups, g)
			continue
		}
		a, err := accountOf(e, opts)
		if err != nil {
			return err
		}
		if a != nil {
			ch.accounts = append(ch.accounts, a)
			ch.dns = append(ch.dns, strings.ToLower(e.DN))
		}
	}
	return nil
}

// membersToReread are the DNs whose memberOf changed without their uSNChanged changing: those
// that joined or left a changed group, and every member of a group renamed or deleted.
func (st *ldapState) membersToReread(ch *changes) []string {
	want := map[string]bool{}
	for _, g := range ch.groups {
		old := st.groups[st.groupByGUID[g.guid]]
		switch {
		case old == nil:
			for _, m := range g.members {
				want[m] = true
			}
		case old.dn != g.dn:
			for _, m := range append(old.members, g.members...) {
				want[m] = true
			}
		default:
			for _, m := range symmetricDiff(old.members, g.members) {
				want[m] = true
			}
		}
	}
	for _, guid := range ch.deletedG {
		if old := st.groups[st.groupByGUID[guid]]; old != nil {
			for _, m := range old.members {
				want[m] = true
			}
		}
	}
	for _, dn := range ch.dns {
		delete(want, dn)
	}
	for _, g := range ch.groups {
		delete(want, g.dn)
	}
	out := make([]string, 0, len(want))
	for dn := range want {
		out = append(out, dn)
	}
	sort.Strings(out)
	return out
}

// apply folds what an incremental sync read into the state and fills res.
func (st *ldapState) apply(ch *changes, res *SyncResult) {
	before := map[string]*adjoinv1.Entity{}
	for i, a := range ch.accounts {
		key := a.entity.GetKey()
		old, known := st.accounts[key]
		if _, seen := before[key]; !seen {
			before[key] = nil
			if known {
				before[key] = old.entity
			}
		}
		if !underDN(ch.dns[i], st.base) { // moved out of the base DN
			if known {
				delete(st.accounts, key)
				res.Delete = append(res.Delete, key)
			}
			continue
		}
		st.accounts[key] = a
	}
	for _, g := range ch.groups {
		st.putGroup(g)
	}
	for _, guid := range ch.deletedG {
		st.removeGroup(guid)
	}
	for _, key := range ch.deleted {
		if _, ok := st.accounts[key]; ok {
			delete(st.accounts, key)
			delete(before, key)
			res.Delete = append(res.Delete, key)
		}
	}
	st.privilege(before)
	for key, old := range before {
		if a, ok := st.accounts[key]; ok && (old == nil || !proto.Equal(old, a.entity)) {
			res.Put = append(res.Put, a.entity)
		}
	}
	sort.Slice(res.Put, func(i, j int) bool { return res.Put[i].GetKey() < res.Put[j].GetKey() })
	sort.Strings(res.Delete)
}

// symmetricDiff returns the values in exactly one of a and b.
func symmetricDiff(a, b []string) []string {
	in := map[string]int{}
	for _, v := range a {
		in[v] |= 1
	}
	for _, v := range b {
		in[v] |= 2
	}
	var out []string
	for v, m := range in {
		if m != 3 {
			out = append(out, v)
		}
	}
	return out
}
