package adapters

import (
	"testing"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// TestKnowsAccountOnlyInCoveredDomains: an account the directory does not hold is unknown only
// in a domain the directory covers; in another domain (a trusted forest, another lab's logs)
// the directory has no say, so golden-ticket and account-enumeration stay quiet about it.
func TestKnowsAccountOnlyInCoveredDomains(t *testing.T) {
	t.Parallel()
	ix := directory.NewIndex()
	d := DCLookup{Index: ix}
	if _, have := d.KnowsAccount("THESHIRE", "pgustavo"); have {
		t.Fatal("an empty directory has a say")
	}
	err := ix.Put(&adjoinv1.Entity{Sid: "S-1-5-21-1-2-3-1104", Kind: adjoinv1.EntityKind_ENTITY_KIND_USER,
		SamAccountName: "pgustavo", NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		domain, sam      string
		known, haveSayOf bool
	}{
		{"THESHIRE", "pgustavo", true, true},
		{"theshire.local", "pgustavo", true, true},
		{"THESHIRE", "nobody", false, true},
		{"THESHIRE.LOCAL", "nobody", false, true},
		{"", "pgustavo", true, true},
		{"OFFSEC", "admmig", false, false},
		{"offsec.lan", "pgustavo", false, false},
	}
	for _, tt := range tests {
		known, have := d.KnowsAccount(tt.domain, tt.sam)
		if known != tt.known || have != tt.haveSayOf {
			t.Errorf("KnowsAccount(%q, %q) = %v, %v; want %v, %v", tt.domain, tt.sam, known, have, tt.known, tt.haveSayOf)
		}
	}
}
