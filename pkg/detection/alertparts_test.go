package detection

import (
	"testing"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestRefsDropsNilInOrder(t *testing.T) {
	a, b := HostRef("dc1", adjoinv1.EntityRole_ENTITY_ROLE_TARGET), UserRef(`corp\bob`, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
	got := Refs(nil, a, nil, b, nil)
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("Refs = %v, want [dc1 bob]", got)
	}
	if got := Refs(); got == nil || len(got) != 0 {
		t.Fatalf("Refs() = %#v, want an empty, non-nil slice", got)
	}
}

func TestEpisodeIDIsTheSameInEveryZone(t *testing.T) {
	utc := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	paris := utc.In(time.FixedZone("CET", 3600))
	if EpisodeID(utc) != EpisodeID(paris) || EpisodeID(utc) != "2026-01-02T03:04:05.000000006Z" {
		t.Fatalf("EpisodeID = %q / %q", EpisodeID(utc), EpisodeID(paris))
	}
}
