package directory

import (
	"hash/maphash"
	"testing"
)

// TestNameTableCollisions gives several names the same hash: a lookup returns only the
// record whose name verifies, whatever the order of insertion, deletion and reinsertion.
func TestNameTableCollisions(t *testing.T) {
	t.Parallel()
	names := map[uint32]string{0: "alice", 1: "bob", 2: "carol", 3: "dave"}
	is := func(name string) func(uint32) bool { return func(rec uint32) bool { return names[rec] == name } }
	const h = 12345 // every name collides
	tests := []struct {
		name   string
		ops    func(tb *nameTable)
		lookup string
		want   uint32
		wantOK bool
	}{
		{name: "first of colliding names", ops: func(tb *nameTable) { tb.set(h, 0, is("alice")); tb.set(h, 1, is("bob")) }, lookup: "alice", want: 0, wantOK: true},
		{name: "second of colliding names", ops: func(tb *nameTable) { tb.set(h, 0, is("alice")); tb.set(h, 1, is("bob")) }, lookup: "bob", want: 1, wantOK: true},
		{name: "colliding name never stored", ops: func(tb *nameTable) { tb.set(h, 0, is("alice")); tb.set(h, 1, is("bob")) }, lookup: "carol"},
		{name: "same name moves to the last writer", ops: func(tb *nameTable) { names[3] = "alice"; tb.set(h, 0, is("alice")); tb.set(h, 3, is("alice")) }, lookup: "alice", want: 3, wantOK: true},
		{name: "removed name behind a tombstone", ops: func(tb *nameTable) {
			tb.set(h, 0, is("alice"))
			tb.set(h, 1, is("bob"))
			tb.set(h, 2, is("carol"))
			tb.remove(h, 1)
		}, lookup: "carol", want: 2, wantOK: true},
		{name: "removed name is gone", ops: func(tb *nameTable) { tb.set(h, 0, is("alice")); tb.set(h, 1, is("bob")); tb.remove(h, 1) }, lookup: "bob"},
		{name: "remove of another record keeps the name", ops: func(tb *nameTable) { tb.set(h, 0, is("alice")); tb.remove(h, 2) }, lookup: "alice", want: 0, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names = map[uint32]string{0: "alice", 1: "bob", 2: "carol", 3: "dave"}
			tb := newNameTable(maphash.MakeSeed(), 0)
			tt.ops(&tb)
			got, ok := tb.find(h, is(tt.lookup))
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("find(%q) = %d, %v; want %d, %v", tt.lookup, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestNameTableGrowsAndClearsTombstones fills a table past its load, empties it, and fills it
// again: every name stays findable and the table does not grow without bound.
func TestNameTableGrowsAndClearsTombstones(t *testing.T) {
	t.Parallel()
	tb := newNameTable(maphash.MakeSeed(), 0)
	hash := func(i uint32) uint32 { return i * 2654435761 }
	is := func(i uint32) func(uint32) bool { return func(rec uint32) bool { return rec == i } }
	for round := range 10 {
		for i := range uint32(10000) {
			tb.set(hash(i), i, is(i))
		}
		for i := range uint32(10000) {
			if got, ok := tb.find(hash(i), is(i)); !ok || got != i {
				t.Fatalf("round %d: find(%d) = %d, %v", round, i, got, ok)
			}
		}
		for i := range uint32(10000) {
			tb.remove(hash(i), i)
		}
		if tb.used != 0 {
			t.Fatalf("round %d: %d used after removing everything", round, tb.used)
		}
	}
	if len(tb.slots) > 10000*2 {
		t.Errorf("%d slots for at most 10000 names", len(tb.slots))
	}
}
