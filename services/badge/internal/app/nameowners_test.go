package app_test

import (
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// TestNameOwner: every device name key of a directory entity leads back to it by a lookup,
// said exact; a key that may have lost characters is said not exact, so a watch walks the
// directory for it; a name nobody holds is an exact miss.
func TestNameOwner(t *testing.T) {
	const domainSID = "S-1-5-21-3-4-5"
	long := strings.Repeat("w", 200)
	entities := []*adjoinv1.Entity{
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: domainSID + "-1104", SamAccountName: "Pgustavo", NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local"},
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: domainSID + "-1105", SamAccountName: "pedro.gustavo-2", NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local"},
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Sid: domainSID + "-1106", SamAccountName: "WORKSTATION6$", NetbiosDomain: "THESHIRE", DnsHostName: "WORKSTATION6.theshire.local"},
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Sid: domainSID + "-1107", SamAccountName: "WEC$", NetbiosDomain: "THESHIRE"},
	}
	inexact := []*adjoinv1.Entity{
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: domainSID + "-1108", SamAccountName: "svc_sql", NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local"},
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: domainSID + "-1109", SamAccountName: "josé", NetbiosDomain: "THESHIRE"},
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Sid: domainSID + "-1110", SamAccountName: "LONG$", NetbiosDomain: "THESHIRE", DnsHostName: long + ".theshire.local"},
	}
	ix := directory.NewIndex()
	for _, e := range append(entities, inexact...) {
		if err := ix.Put(e); err != nil {
			t.Fatal(err)
		}
	}
	b := &app.Badges{Index: ix}
	for _, e := range entities {
		names := entity.NameKeys(e)
		if len(names) == 0 {
			t.Fatalf("%s has no name keys", e.GetSamAccountName())
		}
		for _, n := range names {
			if key, exact := b.NameOwner(n); key != entity.Key(e) || !exact {
				t.Errorf("NameOwner(%q) = %q, %v; want %q, exact", n, key, exact, entity.Key(e))
			}
		}
	}
	for _, e := range inexact {
		n := entity.NameKeys(e)[0]
		if key, exact := b.NameOwner(n); exact && key != entity.Key(e) {
			t.Errorf("NameOwner(%q) = %q, exact; want the owner or not exact", n, key)
		}
	}
	for _, n := range []string{entity.HostNameKey("nobody.theshire.local"), entity.HostNameKey("NOBODY"), entity.UserNameKey("THESHIRE", "nobody"), "user.nodomain", "other.x"} {
		if key, exact := b.NameOwner(n); key != "" || !exact {
			t.Errorf("NameOwner(%q) = %q, %v; want an exact miss", n, key, exact)
		}
	}
}
