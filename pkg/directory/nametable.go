package directory

import "hash/maphash"

// nameTable finds records by the hash of one of their names: open addressing with linear
// probing over 8-byte slots (the name's 32-bit hash and the record index), so the index holds
// no string and no pointer per name. A hash only proposes a candidate; callers verify the
// candidate's actual name, so two names with the same hash never match each other.
type nameTable struct {
	slots []slot
	used  int // slots holding a record
	dead  int // tombstones
	seed  maphash.Seed
}

type slot struct {
	hash uint32
	rec  uint32 // record index + 1; 0 is empty, tombstone is a deleted entry
}

const (
	tombstone   = ^uint32(0)
	maxLoadNum  = 4 // at most 4/5 of the slots used or dead
	maxLoadDen  = 5
	minSlots    = 16
	namesPerEnt = 8 // a computer has up to 9 names, a user about 7
)

func newNameTable(seed maphash.Seed, names int) nameTable {
	t := nameTable{seed: seed}
	t.slots = make([]slot, slotsFor(names))
	return t
}

// slotsFor sizes a table for n names at two thirds full, leaving room to grow before a rehash.
func slotsFor(n int) int { return max(minSlots, n*3/2) }

func (t *nameTable) hashString(kind nameKind, s string) uint32 {
	return mix(maphash.String(t.seed, s), kind)
}

func (t *nameTable) hashBytes(kind nameKind, b []byte) uint32 {
	return mix(maphash.Bytes(t.seed, b), kind)
}

// mix folds the name kind into the hash, so that one table serves every kind.
func mix(h uint64, kind nameKind) uint32 {
	h ^= uint64(kind+1) * 0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return uint32(h)
}

// start maps a hash onto the table without a power-of-two size (Lemire's fast range), so the
// table can be sized to the directory instead of to the next power of two.
func (t *nameTable) start(h uint32) int { return int(uint64(h) * uint64(len(t.slots)) >> 32) }

func (t *nameTable) next(i int) int {
	if i++; i == len(t.slots) {
		return 0
	}
	return i
}

// find calls match for each record whose name of this hash may be the one sought, until match
// returns true; it returns that record.
func (t *nameTable) find(h uint32, match func(rec uint32) bool) (uint32, bool) {
	for i := t.start(h); ; i = t.next(i) {
		s := t.slots[i]
		switch {
		case s.rec == 0:
			return 0, false
		case s.rec != tombstone && s.hash == h && match(s.rec-1):
			return s.rec - 1, true
		}
	}
}

// set points the name of hash h at rec: it replaces the record of a slot whose name is the
// same (same reports it, and set returns the record it pointed at), else takes a free slot.
// Unique names (every kind but the bare sAMAccountName) are set this way: the last entity
// written wins, as it always has.
func (t *nameTable) set(h, rec uint32, same func(rec uint32) bool) (prev uint32, replaced bool) {
	t.reserve()
	free := -1
	for i := t.start(h); ; i = t.next(i) {
		s := t.slots[i]
		switch {
		case s.rec == 0:
			if free < 0 {
				free = i
				t.used++
			} else {
				t.used++
				t.dead--
			}
			t.slots[free] = slot{hash: h, rec: rec + 1}
			return 0, false
		case s.rec == tombstone:
			if free < 0 {
				free = i
			}
		case s.hash == h && (s.rec == rec+1 || same(s.rec-1)):
			t.slots[i].rec = rec + 1
			return s.rec - 1, true
		}
	}
}

// add inserts rec under h beside any other record of the same name (the bare
// sAMAccountName, which several entities may share).
func (t *nameTable) add(h, rec uint32) {
	t.reserve()
	for i := t.start(h); ; i = t.next(i) {
		switch t.slots[i].rec {
		case 0:
			t.used++
		case tombstone:
			t.used++
			t.dead--
		default:
			continue
		}
		t.slots[i] = slot{hash: h, rec: rec + 1}
		return
	}
}

// remove deletes the entry of rec under h, if the name still points at rec.
func (t *nameTable) remove(h, rec uint32) {
	for i := t.start(h); ; i = t.next(i) {
		s := t.slots[i]
		switch {
		case s.rec == 0:
			return
		case s.hash == h && s.rec == rec+1:
			t.slots[i].rec = tombstone
			t.used--
			t.dead++
			return
		}
	}
}

// reserve keeps one free slot for an insertion, rehashing when used and dead slots pass the
// maximum load: into a table half as large again when it is full of live names, else into one
// of the same size, which clears the tombstones deletes left.
func (t *nameTable) reserve() {
	if (t.used+t.dead+1)*maxLoadDen <= len(t.slots)*maxLoadNum {
		return
	}
	n := len(t.slots)
	if (t.used+1)*maxLoadDen*3 > n*maxLoadNum*2 {
		n = n * 3 / 2
	}
	t.rehash(n)
}

func (t *nameTable) rehash(n int) {
	old := t.slots
	t.slots = make([]slot, max(minSlots, n))
	adviseHuge(t.slots)
	t.dead = 0
	for _, s := range old {
		if s.rec == 0 || s.rec == tombstone {
			continue
		}
		i := t.start(s.hash)
		for t.slots[i].rec != 0 {
			i = t.next(i)
		}
		t.slots[i] = s
	}
}

// grow makes room for n names in all without rehashing on the way.
func (t *nameTable) grow(n int) {
	if want := slotsFor(n); want > len(t.slots) {
		t.rehash(want)
	}
}
