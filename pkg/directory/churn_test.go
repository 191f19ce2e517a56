package directory

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// TestIndexReclaimsRewrittenEntries rewrites and deletes a directory many times over, as a
// long-lived deployment does, and checks that the index's memory follows the live directory
// rather than everything it ever saw, and that what is live still reads back exactly.
func TestIndexReclaimsRewrittenEntries(t *testing.T) {
	t.Parallel()
	const n = 2000
	r := rand.New(rand.NewPCG(7, 8))
	ix := NewIndex()
	live := map[string]int{}
	for i := range n {
		e := synthEntity(r, i)
		ix.Put(e)
		live[entity.Key(e)] = i
	}
	ix.mu.RLock()
	arena, recs, slots := len(ix.arena), len(ix.recs), len(ix.names.slots)
	ix.mu.RUnlock()

	for round := range 10 {
		for i := range n {
			e := synthEntity(r, i)
			e.DisplayName = fmt.Sprintf("Renamed %d-%d", round, i) // every entry changes
			e.MemberOf = append(e.MemberOf, fmt.Sprintf("CN=Round %d,OU=Groups,DC=corp", round))
			switch {
			case r.IntN(10) == 0:
				ix.Delete(entity.Key(e))
				delete(live, entity.Key(e))
			default:
				ix.Put(e)
				live[entity.Key(e)] = i
			}
		}
	}
	if ix.Len() != len(live) {
		t.Fatalf("Len = %d, want %d", ix.Len(), len(live))
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if len(ix.arena) > 3*arena {
		t.Errorf("arena is %d bytes after 10 rewrites of a directory that took %d", len(ix.arena), arena)
	}
	if len(ix.recs) > recs+n {
		t.Errorf("%d records for %d entities, after %d at first", len(ix.recs), len(live), recs)
	}
	if len(ix.names.slots) > 2*slots {
		t.Errorf("name table has %d slots after rewrites, %d at first", len(ix.names.slots), slots)
	}
	if groups := len(ix.strs.ids); groups > 200 {
		t.Errorf("%d interned strings: the groups of past rounds were not released", groups)
	}
	for key := range live {
		i, ok := ix.lookupKey(key)
		if !ok {
			t.Fatalf("live key %s not found", key)
		}
		if got := ix.entity(i); got.GetKey() != key || got.GetMemberOf()[len(got.GetMemberOf())-1] != "CN=Round 9,OU=Groups,DC=corp" {
			t.Fatalf("entity %s reads back as %v", key, got)
		}
	}
}

// TestIndexDeleteAllReleasesEverything deletes every entity and checks that no interned
// string and no name is left behind.
func TestIndexDeleteAllReleasesEverything(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 10))
	ix := NewIndex()
	var keys []string
	for range 2000 {
		e := randomEntity(r)
		if k := entity.Key(e); k != "" {
			ix.Put(e)
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		ix.Delete(k)
	}
	if ix.Len() != 0 || len(ix.Keys()) != 0 {
		t.Fatalf("Len = %d, Keys = %v after deleting everything", ix.Len(), ix.Keys())
	}
	if len(ix.strs.ids) != 0 || ix.names.used != 0 {
		t.Errorf("%d interned strings and %d names left after deleting everything", len(ix.strs.ids), ix.names.used)
	}
}

// TestIndexReadsDuringRewrites reads while a writer rewrites every entity often enough to
// compact the arena under the readers: every read sees one whole version of an entity.
func TestIndexReadsDuringRewrites(t *testing.T) {
	t.Parallel()
	const n, rounds = 500, 10
	r := rand.New(rand.NewPCG(11, 12))
	ix := NewIndex()
	var keys []string
	for i := range n {
		e := synthEntity(r, i)
		ix.Put(e)
		keys = append(keys, entity.Key(e))
	}
	done := make(chan struct{})
	errs := make(chan error, 2)
	for w := range 2 {
		go func() {
			defer func() { errs <- nil }()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				key := keys[(i*7+w)%n]
				e, ok := ix.Get(key)
				if !ok || e.GetKey() != key || !consistentRound(e) {
					errs <- fmt.Errorf("Get(%s) = %v, %v", key, e, ok)
					return
				}
				if m := ix.Resolve(&adjoinv1.EntityRef{ObjectGuid: key}); m.Entity == nil || m.Entity.GetKey() != key {
					errs <- fmt.Errorf("Resolve(guid %s) = %v", key, m.Entity)
					return
				}
			}
		}()
	}
	for round := range rounds {
		for i := range n {
			e := synthEntity(r, i)
			e.DisplayName = fmt.Sprintf("Round %d %s", round, e.GetDisplayName())
			e.DistinguishedName = fmt.Sprintf("CN=Round %d %d %0100d,OU=Round %d,DC=corp", round, i, 0, round)
			ix.Put(e)
		}
	}
	close(done)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.compactions == 0 {
		t.Errorf("no compaction ran under the readers (garbage %d of an arena of %d)", ix.garbage, len(ix.arena))
	}
}

// consistentRound reports whether an entity's display name and DN come from the same rewrite.
func consistentRound(e *adjoinv1.Entity) bool {
	var a, b int
	_, errA := fmt.Sscanf(e.GetDisplayName(), "Round %d", &a)
	_, errB := fmt.Sscanf(e.GetDistinguishedName(), "CN=Round %d", &b)
	if errA != nil || errB != nil {
		return errA != nil && errB != nil // the first load has neither
	}
	return a == b
}
