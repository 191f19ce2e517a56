package app_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// base is the time the test incidents' activity counts from.
var base = time.Date(2020, 8, 5, 2, 9, 26, 0, time.UTC)

// incident is an incident on entities, last active minute minutes after base.
func incident(id string, minute int, entities ...string) *adjoinv1.Incident {
	return &adjoinv1.Incident{Id: id, EntityKeys: entities, LastActivity: timestamppb.New(base.Add(time.Duration(minute) * time.Minute)),
		Reasons: []*adjoinv1.IncidentReason{{AlertId: "a-" + id, Kind: "same-user", EntityKeys: entities}}}
}

func ids(incs []*adjoinv1.Incident) []string {
	out := []string{}
	for _, inc := range incs {
		out = append(out, inc.GetId())
	}
	return out
}

// TestIncidentsIndex: each entity lists its most recent incidents first, within the bound per
// entity; the total bound drops the least recently active; merged incidents are listed as the
// one they merged into, once; deletes and updates take incidents off the lists they left.
func TestIncidentsIndex(t *testing.T) {
	type step struct {
		id  string
		inc *adjoinv1.Incident // nil: delete id
	}
	tests := []struct {
		name            string
		perEntity, max  int
		steps           []step
		entity          string
		limit           int
		want            []string
		wantHeld        int
		wantEntityCount int
	}{
		{name: "most recent first", perEntity: 3, max: 100, steps: []step{
			{"i1", incident("i1", 1, "alice")}, {"i3", incident("i3", 3, "alice")}, {"i2", incident("i2", 2, "alice", "ws5")},
		}, entity: "alice", want: []string{"i3", "i2", "i1"}, wantHeld: 3, wantEntityCount: 2},
		{name: "bound per entity keeps the most recent", perEntity: 2, max: 100, steps: []step{
			{"i1", incident("i1", 1, "alice")}, {"i3", incident("i3", 3, "alice")}, {"i2", incident("i2", 2, "alice")}, {"i0", incident("i0", 0, "alice")},
		}, entity: "alice", want: []string{"i3", "i2"}, wantHeld: 4, wantEntityCount: 1},
		{name: "limit", perEntity: 5, max: 100, steps: []step{
			{"i1", incident("i1", 1, "alice")}, {"i2", incident("i2", 2, "alice")}, {"i3", incident("i3", 3, "alice")},
		}, entity: "alice", limit: 1, want: []string{"i3"}, wantHeld: 3, wantEntityCount: 1},
		{name: "total bound drops the least recently active", perEntity: 5, max: 2, steps: []step{
			{"i2", incident("i2", 2, "alice")}, {"i1", incident("i1", 1, "bob")}, {"i3", incident("i3", 3, "alice")},
		}, entity: "bob", want: []string{}, wantHeld: 2, wantEntityCount: 1},
		{name: "an update that grows activity saves it from eviction", perEntity: 5, max: 2, steps: []step{
			{"i1", incident("i1", 1, "bob")}, {"i2", incident("i2", 2, "alice")}, {"i1", incident("i1", 5, "bob")}, {"i3", incident("i3", 3, "alice")},
		}, entity: "bob", want: []string{"i1"}, wantHeld: 2, wantEntityCount: 2},
		{name: "merged: listed as what it merged into, once", perEntity: 5, max: 100, steps: []step{
			{"i1", incident("i1", 1, "alice")}, {"i2", incident("i2", 2, "ws5")},
			{"i2", incident("i2", 4, "alice", "ws5")},
			{"i1", func() *adjoinv1.Incident { i := incident("i1", 1, "alice"); i.MergedInto = "i2"; return i }()},
		}, entity: "alice", want: []string{"i2"}, wantHeld: 2, wantEntityCount: 2},
		{name: "merged into one not listing the entity still resolves", perEntity: 5, max: 100, steps: []step{
			{"i2", incident("i2", 2, "ws5")},
			{"i1", func() *adjoinv1.Incident { i := incident("i1", 1, "alice"); i.MergedInto = "i2"; return i }()},
		}, entity: "alice", want: []string{"i2"}, wantHeld: 2, wantEntityCount: 2},
		{name: "merged into one not held: none", perEntity: 5, max: 100, steps: []step{
			{"i1", func() *adjoinv1.Incident { i := incident("i1", 1, "alice"); i.MergedInto = "gone"; return i }()},
		}, entity: "alice", want: []string{}, wantHeld: 1, wantEntityCount: 1},
		{name: "merge cycle ends", perEntity: 5, max: 100, steps: []step{
			{"i1", func() *adjoinv1.Incident { i := incident("i1", 1, "alice"); i.MergedInto = "i2"; return i }()},
			{"i2", func() *adjoinv1.Incident { i := incident("i2", 2, "alice"); i.MergedInto = "i1"; return i }()},
		}, entity: "alice", want: []string{}, wantHeld: 2, wantEntityCount: 1},
		{name: "delete", perEntity: 5, max: 100, steps: []step{
			{"i1", incident("i1", 1, "alice", "ws5")}, {"i2", incident("i2", 2, "alice")}, {"i1", nil},
		}, entity: "alice", want: []string{"i2"}, wantHeld: 1, wantEntityCount: 1},
		{name: "an update leaving an entity", perEntity: 5, max: 100, steps: []step{
			{"i1", incident("i1", 1, "alice", "ws5")}, {"i1", incident("i1", 2, "ws5")},
		}, entity: "alice", want: []string{}, wantHeld: 1, wantEntityCount: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := app.NewIncidents(tt.perEntity, tt.max)
			for _, s := range tt.steps {
				x.Set(s.id, s.inc)
			}
			if got := ids(x.ForEntity(tt.entity, tt.limit)); !slices.Equal(got, tt.want) {
				t.Errorf("ForEntity(%s) = %v, want %v", tt.entity, got, tt.want)
			}
			if held, entities := x.Len(); held != tt.wantHeld || entities != tt.wantEntityCount {
				t.Errorf("Len = %d incidents, %d entities; want %d, %d", held, entities, tt.wantHeld, tt.wantEntityCount)
			}
		})
	}
}

// TestIncidentsBounded: many incidents over few entities never hold more than the bounds,
// and every entity's list is the most recent of what is still held.
func TestIncidentsBounded(t *testing.T) {
	const perEntity, max, entities = 4, 50, 7
	x := app.NewIncidents(perEntity, max)
	changed := map[string]int{}
	x.OnChange = func(key string) { changed[key]++ }
	for i := range 1000 {
		id := fmt.Sprint("inc-", i)
		x.Set(id, incident(id, i, fmt.Sprint("e", i%entities), fmt.Sprint("e", (i+1)%entities)))
		if held, _ := x.Len(); held > max {
			t.Fatalf("after %d incidents: %d held, bound %d", i+1, held, max)
		}
	}
	for e := range entities {
		key := fmt.Sprint("e", e)
		got := x.ForEntity(key, 0)
		if len(got) != perEntity {
			t.Fatalf("%s lists %d incidents, want %d", key, len(got), perEntity)
		}
		for i := 1; i < len(got); i++ {
			if !got[i-1].GetLastActivity().AsTime().After(got[i].GetLastActivity().AsTime()) {
				t.Errorf("%s: %v not most recent first", key, ids(got))
			}
		}
		// The newest incidents naming e are 1000-k for the k where (1000-k)%7 is e or e-1.
		if newest := got[0].GetLastActivity().AsTime(); newest.Before(base.Add(990 * time.Minute)) {
			t.Errorf("%s: newest listed at %s, want one of the last ten", key, newest)
		}
		if changed[key] == 0 {
			t.Errorf("OnChange never told of %s", key)
		}
	}
}

// BenchmarkIncidentsSet: one incident update on a full index (DefaultMaxIncidents held over
// 20,000 entities, each incident on two), evicting the least recently active.
func BenchmarkIncidentsSet(b *testing.B) {
	x := app.NewIncidents(app.IncidentsPerEntity, app.DefaultMaxIncidents)
	const entities = 20_000
	for i := range app.DefaultMaxIncidents {
		id := fmt.Sprint("inc-", i)
		x.Set(id, incident(id, i, fmt.Sprint("e", i%entities), fmt.Sprint("e", (i*7+1)%entities)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		n := app.DefaultMaxIncidents + i
		id := fmt.Sprint("inc-", n)
		x.Set(id, incident(id, n, fmt.Sprint("e", n%entities), fmt.Sprint("e", (n*7+1)%entities)))
	}
}

// Put keeps its own copy of the encoding: a caller reusing its buffer afterwards (a KV
// watcher's message) changes nothing the index answers.
func TestIncidentsPutCopies(t *testing.T) {
	x := app.NewIncidents(app.IncidentsPerEntity, 10)
	inc := incident("i1", 1, "alice")
	raw, err := proto.Marshal(inc)
	if err != nil {
		t.Fatal(err)
	}
	x.Put("i1", inc, raw)
	clear(raw)
	got := x.ForEntity("alice", 0)
	if len(got) != 1 || got[0].GetId() != "i1" || !proto.Equal(got[0], inc) {
		t.Fatalf("ForEntity(alice) after the caller cleared its buffer = %v, want %v", got, inc)
	}
}
