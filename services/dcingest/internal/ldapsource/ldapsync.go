package ldapsource

import (
	"context"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Kinds of sync, as stored in DirectorySync.last_kind.
const (
	KindFull        = "full"
	KindIncremental = "incremental"
)

// LDAPSync reads the users and computers of one domain from a DC over LDAP: everything on the
// first sync, then only what changed since the DC's highestCommittedUSN at the previous one.
// Between syncs it remembers the DC it read from (a USN means nothing on another DC), every
// account it returned, and every group of the domain with its members, because memberOf is a
// back-link: adding a user to a group changes the group's uSNChanged, not the user's.
//
// A sync either returns its whole result or an error and leaves what it remembers as it was;
// when the caller cannot store a result it calls Forget, and the next sync is full.
type LDAPSync struct {
	Config LDAPConfig
	// Options.Source is stored in every Entity (e.g. "ldap:ldaps://dc1.corp.example:636").
	// An empty Options.NetBIOSDomain is read from the domain's crossRef object.
	Options Options
	// FullEvery is the longest time between two full syncs.
	FullEvery time.Duration

	state *ldapState
}

// ldapState is what the last successful sync saw.
type ldapState struct {
	server    string // dsServiceName of the DC
	usn       int64  // its highestCommittedUSN before the sync read anything
	defaultNC string
	root      string // where groups, changes and tombstones are searched: the domain
	base      string // lower-case DN under which accounts are synced
	opts      Options
	lastFull  time.Time

	accounts    map[string]*account // entity key -> account
	groups      map[string]*group   // lower-case DN -> group
	groupByGUID map[string]string   // objectGUID -> lower-case DN
	groupBySID  map[string]string   // objectSid -> lower-case DN
}

// SyncResult is what one sync found.
type SyncResult struct {
	Kind   string // KindFull or KindIncremental
	Server string // dsServiceName of the DC that answered
	USN    int64  // its highestCommittedUSN, where the next incremental sync starts
	// Put are the entities to store: after a full sync every account of the source (the caller
	// deletes this source's other entries), after an incremental one those that changed.
	Put []*adjoinv1.Entity
	// Delete are the keys of accounts deleted or moved out of the base DN (incremental only).
	Delete []string
	// Counts of the source's accounts after the sync.
	Users, Computers, Disabled, Privileged int
}

// Sync connects, binds and reads: a full sync when nothing is remembered, when the DC is not
// the one of the last sync (failover), when its USN went back (a DC restored from backup), or
// when FullEvery has passed since the last full one; an incremental sync otherwise.
func (s *LDAPSync) Sync(ctx context.Context, now time.Time) (*SyncResult, error) {
	conn, err := dialLDAP(ctx, s.Config)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	root, err := conn.rootDSE()
	if err != nil {
		return nil, err
	}
	st := s.state
	if st == nil || st.server != root.server || st.defaultNC != root.defaultNC || root.usn < st.usn || now.Sub(st.lastFull) >= s.FullEvery {
		return s.full(conn, root, now)
	}
	res, err := st.incremental(conn, root)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return res, err
}

// Forget drops what the previous syncs saw, so that the next sync is full.
func (s *LDAPSync) Forget() { s.state = nil }

func (s *LDAPSync) full(conn *ldapConn, root rootDSE, now time.Time) (*SyncResult, error) {
	st := &ldapState{server: root.server, usn: root.usn, defaultNC: root.defaultNC, root: root.defaultNC,
		base: strings.ToLower(s.Config.BaseDN), opts: s.Options, lastFull: now,
		accounts: map[string]*account{}, groups: map[string]*group{}, groupByGUID: map[string]string{}, groupBySID: map[string]string{}}
	if st.base == "" {
		st.base = strings.ToLower(root.defaultNC)
	}
	if !underDN(st.base, root.defaultNC) {
		st.root = s.Config.BaseDN
	}
	if st.opts.NetBIOSDomain == "" {
		st.opts.NetBIOSDomain = conn.netbiosName(root)
	}
	groups, err := conn.search(st.root, groupFilter, groupAttributes)
	if err != nil {
		return nil, err
	}
	base := s.Config.BaseDN
	if base == "" {
		base = root.defaultNC
	}
	accounts, err := conn.search(base, accountFilter, accountAttributes)
	if err != nil {
		return nil, err
	}
	for _, e := range groups {
		g, err := groupOf(e)
		if err != nil {
			return nil, err
		}
		st.putGroup(g)
	}
	for _, e := range accounts {
		a, err := accountOf(e, st.opts)
		if err != nil {
			return nil, err
		}
		if a != nil {
			st.accounts[a.entity.GetKey()] = a
		}
	}
	st.privilege(nil)
	res := &SyncResult{Kind: KindFull, Server: root.server, USN: root.usn}
	for _, a := range st.accounts {
		res.Put = append(res.Put, a.entity)
	}
	sort.Slice(res.Put, func(i, j int) bool { return res.Put[i].GetKey() < res.Put[j].GetKey() })
	st.count(res)
	s.state = st
	return res, nil
}

// privilege sets every account's privileged flag from the groups; accounts whose flag changes
// are added to changed (with their entity as it was) when changed is not nil.
func (st *ldapState) privilege(changed map[string]*adjoinv1.Entity) {
	p := newPrivilegeOf(st.groups, st.groupBySID)
	for key, a := range st.accounts {
		v := p.account(a)
		if a.entity.GetPrivileged() == v {
			continue
		}
		if _, ok := changed[key]; !ok && changed != nil {
			changed[key] = proto.Clone(a.entity).(*adjoinv1.Entity)
		}
		a.entity.Privileged = v
	}
}

func (st *ldapState) putGroup(g *group) {
	if oldDN, ok := st.groupByGUID[g.guid]; ok && oldDN != g.dn {
		st.removeGroup(g.guid)
	}
	st.groups[g.dn] = g
	st.groupByGUID[g.guid] = g.dn
	if g.sid != "" {
		st.groupBySID[g.sid] = g.dn
	}
}

func (st *ldapState) removeGroup(guid string) {
	dn, ok := st.groupByGUID[guid]
	if !ok {
		return
	}
	if g := st.groups[dn]; g != nil && g.sid != "" {
		delete(st.groupBySID, g.sid)
	}
	delete(st.groups, dn)
	delete(st.groupByGUID, guid)
}

func (st *ldapState) count(res *SyncResult) {
	for _, a := range st.accounts {
		switch a.entity.GetKind() {
		case adjoinv1.EntityKind_ENTITY_KIND_USER:
			res.Users++
		case adjoinv1.EntityKind_ENTITY_KIND_COMPUTER:
			res.Computers++
		}
		if a.entity.GetDisabled() {
			res.Disabled++
		}
		if a.entity.GetPrivileged() {
			res.Privileged++
		}
	}
}
