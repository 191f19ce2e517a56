package directory

import (
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// TestKnowsDomain: a domain is known while one of its entities is, by either name in any case.
func TestKnowsDomain(t *testing.T) {
	t.Parallel()
	ix := NewIndex()
	put := func(sid, sam string) {
		t.Helper()
		err := ix.Put(&adjoinv1.Entity{Sid: sid, Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, SamAccountName: sam,
			NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local"})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("S-1-5-21-1-2-3-1104", "a")
	put("S-1-5-21-1-2-3-1105", "b")
	for _, name := range []string{"THESHIRE", "theshire", "theshire.local", "THESHIRE.LOCAL"} {
		if !ix.KnowsDomain(name) {
			t.Errorf("KnowsDomain(%q) = false", name)
		}
	}
	for _, name := range []string{"", "OFFSEC", "offsec.lan", "NT AUTHORITY"} {
		if ix.KnowsDomain(name) {
			t.Errorf("KnowsDomain(%q) = true", name)
		}
	}
	put("S-1-5-21-1-2-3-1104", "a") // replaced: still counted once
	ix.Delete(domainKeyOf(t, ix, "a"))
	if !ix.KnowsDomain("theshire") {
		t.Error("one entity left, domain forgotten")
	}
	ix.Delete(domainKeyOf(t, ix, "b"))
	if ix.KnowsDomain("theshire") || len(ix.domains) != 0 {
		t.Errorf("no entity left, domains = %v", ix.domains)
	}
}

// domainKeyOf is the index key of the THESHIRE account sam.
func domainKeyOf(t *testing.T, ix *Index, sam string) string {
	t.Helper()
	e := ix.Resolve(&adjoinv1.EntityRef{SamAccountName: sam, Domain: "THESHIRE"}).Entity
	if e == nil {
		t.Fatalf("%s not resolved", sam)
	}
	return e.GetKey()
}
