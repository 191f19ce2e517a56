package ports

import (
	"slices"
	"testing"

	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// TestWatchSetUnsureNames: for a watch of every entity, a device name a key may have mangled
// is answered by its lookup when that finds an owner, and kept for one walk that finds every
// owner, even one whose name the lookup cannot find; the walk forgets what it walked for.
func TestWatchSetUnsureNames(t *testing.T) {
	const domainSID = "S-1-5-21-7-8-9"
	users := []*adjoinv1.Entity{
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: domainSID + "-1104", SamAccountName: "svc_sql", NetbiosDomain: "THESHIRE"},
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: domainSID + "-1105", SamAccountName: "svc sql", NetbiosDomain: "THESHIRE"},
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: domainSID + "-1106", SamAccountName: "pgustavo", NetbiosDomain: "THESHIRE"},
	}
	ix := directory.NewIndex()
	for _, e := range users {
		if err := ix.Put(e); err != nil {
			t.Fatal(err)
		}
	}
	w := newWatchSet(&app.Badges{Index: ix}, nil, true)
	name := entity.UserNameKey("THESHIRE", "svc_sql") // also the key of "svc sql"
	if got := w.affected(name); !slices.Equal(got, []string{entity.Key(users[0])}) {
		t.Errorf("affected(%q) = %v, want the owner the lookup finds, %s", name, got, entity.Key(users[0]))
	}
	if got := w.affected(entity.UserNameKey("THESHIRE", "pgustavo")); !slices.Equal(got, []string{entity.Key(users[2])}) || w.unsureLen() != 1 {
		t.Errorf("an exact name: affected = %v and %d names unsure, want pgustavo and 1", got, w.unsureLen())
	}
	got := w.walk()
	slices.Sort(got)
	if want := []string{entity.Key(users[0]), entity.Key(users[1])}; !slices.Equal(got, want) {
		t.Errorf("walk() = %v, want both owners %v", got, want)
	}
	if w.unsureLen() != 0 || w.walk() != nil {
		t.Error("a second walk found names to walk for again")
	}
}
