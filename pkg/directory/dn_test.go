package directory

import (
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestNormalizeDN(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"CN=sa_merry,CN=Users,DC=adjoin,DC=test", "cn=sa_merry,cn=users,dc=adjoin,dc=test"},
		{"CN=Frodo Baggins, CN=Users , DC=adjoin,DC=test", "cn=frodo baggins,cn=users,dc=adjoin,dc=test"},
		{" cn = Frodo Baggins ,cn=users,dc=adjoin,dc=test", "cn=frodo baggins,cn=users,dc=adjoin,dc=test"},
		{`CN=Baggins\, Frodo,CN=Users,DC=x`, `cn=baggins\, frodo,cn=users,dc=x`},
		{`CN=trailing\ ,DC=x`, `cn=trailing\ ,dc=x`},
		{"sa_merry", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeDN(tt.in); got != tt.want {
			t.Errorf("NormalizeDN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIndexByDN(t *testing.T) {
	t.Parallel()
	const sid = "S-1-5-21-3936881895-3070845151-3360841461-1190"
	ix := NewIndex()
	merry := &adjoinv1.Entity{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: sid, SamAccountName: "sa_merry",
		NetbiosDomain: "ADJOIN", DistinguishedName: "CN=sa_merry,CN=Users,DC=adjoin,DC=test"}
	ix.Put(merry)
	tests := []struct {
		dn     string
		wantOK bool
	}{
		{"CN=sa_merry,CN=Users,DC=adjoin,DC=test", true},
		{"cn=SA_MERRY, cn=users, dc=adjoin, dc=test", true},
		{"CN=sa_pippin,CN=Users,DC=adjoin,DC=test", false},
		{"sa_merry", false},
		{"", false},
	}
	for _, tt := range tests {
		e, ok := ix.ByDN(tt.dn)
		if ok != tt.wantOK || (ok && e.GetSid() != sid) {
			t.Errorf("ByDN(%q) = %v, %v; want ok %v", tt.dn, e, ok, tt.wantOK)
		}
	}
	// A renamed entity is found by its new DN only.
	moved := &adjoinv1.Entity{Kind: merry.Kind, Sid: sid, SamAccountName: "sa_merry", NetbiosDomain: "ADJOIN",
		DistinguishedName: "CN=sa_merry,OU=Admins,DC=adjoin,DC=test"}
	ix.Put(moved)
	if _, ok := ix.ByDN(merry.GetDistinguishedName()); ok {
		t.Error("the old DN still finds the moved entity")
	}
	if _, ok := ix.ByDN(moved.GetDistinguishedName()); !ok {
		t.Error("the new DN does not find the moved entity")
	}
	ix.Delete(sid)
	if _, ok := ix.ByDN(moved.GetDistinguishedName()); ok {
		t.Error("a deleted entity is still found by DN")
	}
}

// A free-form query that holds an "=" is a distinguished name, found in any case and spacing,
// also when an escaped comma puts a backslash in it (which would otherwise read as DOMAIN\sam).
func TestFindQueryByDN(t *testing.T) {
	t.Parallel()
	const sid = "S-1-5-21-3936881895-3070845151-3360841461-1190"
	ix := NewIndex()
	ix.Put(&adjoinv1.Entity{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: sid, SamAccountName: "sa_merry",
		NetbiosDomain: "ADJOIN", DistinguishedName: `CN=Brandybuck\, Merry,CN=Users,DC=adjoin,DC=test`})
	tests := []struct{ query, want string }{
		{`CN=Brandybuck\, Merry,CN=Users,DC=adjoin,DC=test`, sid},
		{`cn=brandybuck\, merry, cn=users, dc=adjoin, dc=test`, sid},
		{`CN=Took\, Pippin,CN=Users,DC=adjoin,DC=test`, ""},
	}
	for _, tt := range tests {
		m, err := findBoth(t, ix, selQuery(tt.query))
		if err != nil {
			t.Fatalf("Find(query %q): %v", tt.query, err)
		}
		if got := keyOf(m); got != tt.want {
			t.Errorf("Find(query %q) = %q, want %q (tried %q)", tt.query, got, tt.want, m.Tried)
		}
	}
}
