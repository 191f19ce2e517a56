package ldapsource

import (
	"strings"
)

// Privileged groups: their members, direct or through nested groups, are flagged privileged.
// They are the groups AdminSDHolder protects that hand out administration of the domain or
// its DCs; Domain Controllers, Read-only Domain Controllers and Replicator are left out, as
// their members are DC machine accounts, not administrators.
var (
	// privilegedRIDs are groups of any domain, S-1-5-21-<domain>-<RID>; Schema and Enterprise
	// Admins live in the forest root domain.
	privilegedRIDs = map[string]string{
		"512": "Domain Admins",
		"518": "Schema Admins",
		"519": "Enterprise Admins",
		"526": "Key Admins",
		"527": "Enterprise Key Admins",
	}
	// privilegedBuiltins are the built-in domain-local groups.
	privilegedBuiltins = map[string]string{
		"S-1-5-32-544": "Administrators",
		"S-1-5-32-548": "Account Operators",
		"S-1-5-32-549": "Server Operators",
		"S-1-5-32-550": "Print Operators",
		"S-1-5-32-551": "Backup Operators",
	}
	// privilegedGroups are the same groups by lower-case CN, for groups whose SID is unknown
	// (an LDIF memberOf, or a group outside the synced domain).
	privilegedGroups = privilegedNames()
)

func privilegedNames() map[string]bool {
	out := map[string]bool{}
	for _, m := range []map[string]string{privilegedRIDs, privilegedBuiltins} {
		for _, name := range m {
			out[strings.ToLower(name)] = true
		}
	}
	return out
}

// privilegedSID reports whether sid is one of the privileged groups.
func privilegedSID(sid string) bool {
	sid = strings.ToUpper(sid)
	if privilegedBuiltins[sid] != "" {
		return true
	}
	i := strings.LastIndexByte(sid, '-')
	return strings.HasPrefix(sid, "S-1-5-21-") && i > 0 && privilegedRIDs[sid[i+1:]] != ""
}

// privilegeOf decides which groups make their members privileged, through nesting, for one
// state of the groups; it remembers its answers.
type privilegeOf struct {
	groups  map[string]*group // lower-case DN -> group
	bySID   map[string]string // SID -> lower-case DN
	answers map[string]bool
	busy    map[string]bool // groups being decided, against membership cycles
}

func newPrivilegeOf(groups map[string]*group, bySID map[string]string) *privilegeOf {
	return &privilegeOf{groups: groups, bySID: bySID, answers: map[string]bool{}, busy: map[string]bool{}}
}

// group reports whether members of the group with the lower-case dn are privileged: it is a
// privileged group (by SID when known, by CN otherwise) or a member of one.
func (p *privilegeOf) group(dn string) bool {
	if v, ok := p.answers[dn]; ok {
		return v
	}
	g, ok := p.groups[dn]
	if !ok {
		return privilegedGroups[strings.ToLower(firstRDNValue(dn))]
	}
	if p.busy[dn] {
		return false
	}
	p.busy[dn] = true
	v := false
	if g.sid != "" {
		v = privilegedSID(g.sid)
	} else {
		v = privilegedGroups[g.cn]
	}
	for _, parent := range g.memberOf {
		if v {
			break
		}
		v = p.group(parent)
	}
	delete(p.busy, dn)
	p.answers[dn] = v
	return v
}

// account reports whether a user or computer is privileged: adminCount set, or a member of a
// privileged group, directly, through nesting, or as its primary group.
func (p *privilegeOf) account(a *account) bool {
	if a.adminCount {
		return true
	}
	for _, g := range a.entity.GetMemberOf() {
		if p.group(strings.ToLower(g)) {
			return true
		}
	}
	if a.primaryGroup == "" {
		return false
	}
	if dn, ok := p.bySID[a.primaryGroup]; ok {
		return p.group(dn)
	}
	return privilegedSID(a.primaryGroup)
}
