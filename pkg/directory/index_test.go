package directory

import (
	"fmt"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestIndexPutGetLen(t *testing.T) {
	t.Parallel()
	ix := shireIndex(t)

	tests := []struct {
		name     string
		key      string
		wantOK   bool
		wantSAM  string
		wantKind adjoinv1.EntityKind
	}{
		{name: "user by SID key", key: sidPgustavo, wantOK: true, wantSAM: "pgustavo", wantKind: adjoinv1.EntityKind_ENTITY_KIND_USER},
		{name: "computer by SID key", key: sidWS6, wantOK: true, wantSAM: "WORKSTATION6$", wantKind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER},
		{name: "entity with objectGUID is keyed by the normalised GUID", key: guidWS7, wantOK: true, wantSAM: "WORKSTATION7$", wantKind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER},
		{name: "braced GUID is not a key", key: "{" + guidWS7 + "}"},
		{name: "keys are exact, not folded", key: "s-1-5-21-3669966080-2286457517-972388166-1104"},
		{name: "unknown key", key: shireDomainSID + "-9999"},
		{name: "empty key", key: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, ok := ix.Get(tt.key)
			if ok != tt.wantOK {
				t.Fatalf("Get(%q) ok = %v, want %v", tt.key, ok, tt.wantOK)
			}
			if !ok {
				if e != nil {
					t.Errorf("Get(%q) = %v with ok false, want nil", tt.key, e)
				}
				return
			}
			if e.GetKey() != tt.key {
				t.Errorf("Get(%q).Key = %q, want the key filled in", tt.key, e.GetKey())
			}
			if e.GetSamAccountName() != tt.wantSAM || e.GetKind() != tt.wantKind {
				t.Errorf("Get(%q) = %s %s, want %s %s", tt.key, e.GetKind(), e.GetSamAccountName(), tt.wantKind, tt.wantSAM)
			}
		})
	}
}

func TestIndexPutCopiesEntity(t *testing.T) {
	t.Parallel()
	ix := NewIndex()
	e := shireUser(sidPgustavo, "pgustavo", "Gustavo Pedro")
	ix.Put(e)
	if e.GetKey() != "" {
		t.Errorf("Put set Key on the caller's entity to %q; it must work on a copy", e.GetKey())
	}
	e.SamAccountName = "mallory" // a later change by the caller must not reach the index
	got, ok := ix.Get(sidPgustavo)
	if !ok || got.GetSamAccountName() != "pgustavo" {
		t.Fatalf("Get after the caller changed its entity = %v, %v; want the stored pgustavo", got, ok)
	}
	if m := ix.Resolve(&adjoinv1.EntityRef{SamAccountName: `THESHIRE\mallory`}); m.Entity != nil {
		t.Errorf("name changed after Put resolved to %s", keyOf(m))
	}
}

func TestIndexPutWithoutKeyIsIgnored(t *testing.T) {
	t.Parallel()
	ix := NewIndex()
	tests := []struct {
		name string
		e    *adjoinv1.Entity
	}{
		{name: "no SID or GUID", e: &adjoinv1.Entity{SamAccountName: "orphan", NetbiosDomain: "THESHIRE"}},
		{name: "malformed SID", e: &adjoinv1.Entity{Sid: "S-1-x", SamAccountName: "orphan"}},
		{name: "malformed GUID and no SID", e: &adjoinv1.Entity{ObjectGuid: "not-a-guid", SamAccountName: "orphan"}},
	}
	for _, tt := range tests {
		ix.Put(tt.e)
		if ix.Len() != 0 {
			t.Fatalf("%s: Len = %d after Put of an entity without a key, want 0", tt.name, ix.Len())
		}
	}
	if m := ix.Resolve(&adjoinv1.EntityRef{SamAccountName: `THESHIRE\orphan`}); m.Entity != nil {
		t.Errorf("keyless entity resolved by name to %v", m.Entity)
	}
}

func TestIndexRePutRenamedSAMDropsOldNames(t *testing.T) {
	t.Parallel()
	ix := shireIndex(t)
	n := ix.Len()

	renamed := shireUser(sidPgustavo, "gpedro", "Gustavo Pedro")
	ix.Put(renamed)
	if ix.Len() != n {
		t.Fatalf("Len after re-Put = %d, want %d (same key)", ix.Len(), n)
	}
	tests := []struct {
		name    string
		ref     *adjoinv1.EntityRef
		wantKey string
	}{
		{name: "old DOMAIN\\sam gone", ref: &adjoinv1.EntityRef{SamAccountName: `THESHIRE\pgustavo`}},
		{name: "old DNS-domain sam gone", ref: &adjoinv1.EntityRef{SamAccountName: "pgustavo", Domain: "theshire.local"}},
		{name: "old UPN gone", ref: &adjoinv1.EntityRef{Upn: "pgustavo@theshire.local"}},
		{name: "old bare sam gone", ref: &adjoinv1.EntityRef{SamAccountName: "pgustavo"}},
		{name: "new DOMAIN\\sam", ref: &adjoinv1.EntityRef{SamAccountName: `THESHIRE\gpedro`}, wantKey: sidPgustavo},
		{name: "new UPN", ref: &adjoinv1.EntityRef{Upn: "gpedro@theshire.local"}, wantKey: sidPgustavo},
		{name: "new bare sam", ref: &adjoinv1.EntityRef{SamAccountName: "gpedro"}, wantKey: sidPgustavo},
		{name: "SID unchanged", ref: &adjoinv1.EntityRef{Sid: sidPgustavo}, wantKey: sidPgustavo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := keyOf(ix.Resolve(tt.ref)); got != tt.wantKey {
				t.Errorf("Resolve = %q, want %q", got, tt.wantKey)
			}
		})
	}
}

func TestIndexRePutComputerRenamedDropsHostNames(t *testing.T) {
	t.Parallel()
	ix := shireIndex(t)
	ix.Put(shireComputer(sidWS6, "WORKSTATION9"))
	for _, ref := range []*adjoinv1.EntityRef{
		{DnsHostName: "WORKSTATION6.theshire.local"},
		{NetbiosName: "WORKSTATION6"},
		{SamAccountName: `THESHIRE\WORKSTATION6$`},
	} {
		if m := ix.Resolve(ref); m.Entity != nil {
			t.Errorf("Resolve(%v) after rename = %s, want no match", ref, keyOf(m))
		}
	}
	if got := keyOf(ix.Resolve(&adjoinv1.EntityRef{DnsHostName: "workstation9.theshire.local"})); got != sidWS6 {
		t.Errorf("Resolve(new FQDN) = %q, want %q", got, sidWS6)
	}
}

func TestIndexDeleteRemovesNames(t *testing.T) {
	t.Parallel()
	ix := shireIndex(t)
	n := ix.Len()

	ix.Delete(sidWS6)
	if ix.Len() != n-1 {
		t.Fatalf("Len after Delete = %d, want %d", ix.Len(), n-1)
	}
	if _, ok := ix.Get(sidWS6); ok {
		t.Fatalf("Get after Delete found the entity")
	}
	for _, ref := range []*adjoinv1.EntityRef{
		{Sid: sidWS6},
		{DnsHostName: "WORKSTATION6.theshire.local"},
		{NetbiosName: "WORKSTATION6"},
		{SamAccountName: `THESHIRE\WORKSTATION6$`},
		{SamAccountName: "WORKSTATION6$"},
	} {
		if m := ix.Resolve(ref); m.Entity != nil {
			t.Errorf("Resolve(%v) after Delete = %s, want no match", ref, keyOf(m))
		}
	}
	// Other entities are untouched, and deleting twice or deleting an unknown key is harmless.
	ix.Delete(sidWS6)
	ix.Delete("no-such-key")
	if ix.Len() != n-1 {
		t.Fatalf("Len after repeated Delete = %d, want %d", ix.Len(), n-1)
	}
	if got := keyOf(ix.Resolve(&adjoinv1.EntityRef{NetbiosName: "WORKSTATION5"})); got != sidWS5 {
		t.Errorf("WORKSTATION5 after deleting WORKSTATION6 = %q, want %q", got, sidWS5)
	}
	// Deleting by GUID key works too.
	ix.Delete(guidWS7)
	if m := ix.Resolve(&adjoinv1.EntityRef{ObjectGuid: guidWS7}); m.Entity != nil {
		t.Errorf("GUID entity still resolves after Delete")
	}
}

// Bare sAMAccountNames resolve only while unique; Delete of one duplicate makes the other
// resolvable again.
func TestIndexBareSAMUniqueness(t *testing.T) {
	t.Parallel()
	ix := shireIndex(t)
	// The same sam in another domain (a trusted forest): now "pgustavo" alone is ambiguous.
	other := &adjoinv1.Entity{
		Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: "S-1-5-21-4228717743-1032521047-1810997296-1104",
		SamAccountName: "pgustavo", NetbiosDomain: "OTHERLAB", DnsDomain: "otherlab.local",
	}
	ix.Put(other)
	m := ix.Resolve(&adjoinv1.EntityRef{SamAccountName: "pgustavo"})
	if m.Entity != nil {
		t.Fatalf("ambiguous bare sam resolved to %s", keyOf(m))
	}
	if want := "sam:pgustavo"; len(m.Tried) == 0 || m.Tried[len(m.Tried)-1] != want {
		t.Errorf("Tried = %q, want it to end with %q", m.Tried, want)
	}
	// Qualified names still tell them apart.
	if got := keyOf(ix.Resolve(&adjoinv1.EntityRef{SamAccountName: `OTHERLAB\pgustavo`})); got != other.GetSid() {
		t.Errorf(`OTHERLAB\pgustavo = %q, want %q`, got, other.GetSid())
	}
	ix.Delete(other.GetSid())
	if got := keyOf(ix.Resolve(&adjoinv1.EntityRef{SamAccountName: "pgustavo"})); got != sidPgustavo {
		t.Errorf("bare sam after removing the duplicate = %q, want %q", got, sidPgustavo)
	}
}

func TestIndexConcurrentUse(t *testing.T) {
	t.Parallel()
	ix := shireIndex(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				sid := fmt.Sprintf("%s-%d", shireDomainSID, 5000+w*1000+i)
				ix.Put(shireUser(sid, fmt.Sprintf("u%d_%d", w, i), ""))
				ix.Resolve(&adjoinv1.EntityRef{Sid: sidPgustavo, SamAccountName: "pgustavo"})
				if i%2 == 0 {
					ix.Delete(sid)
				}
			}
		}()
	}
	wg.Wait()
	if got, want := ix.Len(), len(shireEntities())+4*100; got != want {
		t.Fatalf("Len after concurrent Put/Delete = %d, want %d", got, want)
	}
	e, _ := ix.Get(sidPgustavo)
	if !proto.Equal(e, withKey(shireUser(sidPgustavo, "pgustavo", "Gustavo Pedro"), sidPgustavo)) {
		t.Errorf("pgustavo changed under concurrent use: %v", e)
	}
}

func withKey(e *adjoinv1.Entity, key string) *adjoinv1.Entity {
	e.Key = key
	return e
}
