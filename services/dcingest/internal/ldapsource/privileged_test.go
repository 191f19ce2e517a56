package ldapsource

import (
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestPrivilege(t *testing.T) {
	const dom = "S-1-5-21-1-2-3-"
	groups := map[string]*group{}
	bySID := map[string]string{}
	add := func(dn, sid, cn string, memberOf ...string) {
		groups[dn] = &group{dn: dn, sid: sid, cn: cn, memberOf: memberOf}
		if sid != "" {
			bySID[sid] = dn
		}
	}
	add("cn=domain admins,cn=users,dc=x", dom+"512", "domain admins")
	add("cn=administrators,cn=builtin,dc=x", "S-1-5-32-544", "administrators")
	add("cn=tier0,ou=groups,dc=x", dom+"1200", "tier0", "cn=domain admins,cn=users,dc=x")
	add("cn=tier0-ops,ou=groups,dc=x", dom+"1201", "tier0-ops", "cn=tier0,ou=groups,dc=x")
	add("cn=loop-a,ou=groups,dc=x", dom+"1202", "loop-a", "cn=loop-b,ou=groups,dc=x")
	add("cn=loop-b,ou=groups,dc=x", dom+"1203", "loop-b", "cn=loop-a,ou=groups,dc=x")
	// A group named like a privileged one, with an ordinary SID: the SID wins.
	add("cn=domain admins,ou=fake,dc=x", dom+"1204", "domain admins")
	add("cn=backup,ou=groups,dc=x", "", "backup operators")

	tests := []struct {
		name     string
		memberOf []string
		primary  string
		admin    bool
		want     bool
	}{
		{name: "no groups", want: false},
		{name: "adminCount", admin: true, want: true},
		{name: "direct Domain Admins", memberOf: []string{"CN=Domain Admins,CN=Users,DC=x"}, want: true},
		{name: "built-in Administrators", memberOf: []string{"CN=Administrators,CN=Builtin,DC=x"}, want: true},
		{name: "nested twice", memberOf: []string{"CN=tier0-ops,OU=Groups,DC=x"}, want: true},
		{name: "membership cycle", memberOf: []string{"CN=loop-a,OU=Groups,DC=x"}, want: false},
		{name: "look-alike name, ordinary SID", memberOf: []string{"CN=Domain Admins,OU=Fake,DC=x"}, want: false},
		{name: "no SID: by CN", memberOf: []string{"CN=backup,OU=Groups,DC=x"}, want: true},
		{name: "unknown group: by CN", memberOf: []string{"CN=Enterprise Admins,CN=Users,DC=root"}, want: true},
		{name: "unknown ordinary group", memberOf: []string{"CN=Staff,DC=root"}, want: false},
		{name: "primary group Domain Admins", primary: dom + "512", want: true},
		{name: "primary group Domain Users", primary: dom + "513", want: false},
		{name: "primary group nested", primary: dom + "1200", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &account{entity: &adjoinv1.Entity{MemberOf: tt.memberOf}, adminCount: tt.admin, primaryGroup: tt.primary}
			if got := newPrivilegeOf(groups, bySID).account(a); got != tt.want {
				t.Errorf("privileged = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPrivilegedSID(t *testing.T) {
	for sid, want := range map[string]bool{
		"S-1-5-21-1-2-3-512": true, "S-1-5-21-9-9-9-519": true, "S-1-5-21-1-2-3-518": true,
		"S-1-5-32-544": true, "S-1-5-32-551": true, "s-1-5-32-548": true,
		"S-1-5-21-1-2-3-513": false, "S-1-5-21-1-2-3-516": false, "S-1-5-32-545": false, "S-1-5-512": false,
	} {
		if got := privilegedSID(sid); got != want {
			t.Errorf("privilegedSID(%s) = %v, want %v", sid, got, want)
		}
	}
}
