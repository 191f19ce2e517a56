package directory

import (
	"errors"
	"fmt"
)

const (
	// arenaPerEntity is the arena room reserved per entity when a load's size is known: a
	// user's sAMAccountName, display name and first RDN, with their lengths.
	arenaPerEntity = 64
	// compactMin is the garbage below which the arena is never compacted: copying a small
	// arena to save a few kilobytes is not worth it.
	compactMin = 256 << 10
	// maxArena keeps offsets within their 32 bits.
	maxArena = 1<<32 - 1
)

// ErrFull means an entity was refused because its strings would take the index's arena past
// what record offsets address (4 GiB): the rest of the directory stays served.
var ErrFull = errors.New("directory index full")

// makeRoom makes sure n more bytes of strings stay within the arena's limit, compacting first
// when deleted entities' strings would make the room; else it refuses the entity rather than
// panicking in the watch that loads a directory (which would fail again on every restart).
// Called with mu held, before anything of the entity is written.
func (ix *Index) makeRoom(n int) error {
	if len(ix.arena)+n <= ix.arenaLimit() {
		return nil
	}
	if ix.garbage > 0 && len(ix.arena)-ix.garbage+n <= ix.arenaLimit() {
		ix.compact()
		return nil
	}
	return fmt.Errorf("%w: %d bytes of strings beside %d held, at most %d", ErrFull, n, len(ix.arena), ix.arenaLimit())
}

// arenaLimit is maxArena, or the smaller limit a test set.
func (ix *Index) arenaLimit() int {
	if ix.testArenaLimit > 0 {
		return ix.testArenaLimit
	}
	return maxArena
}

// setArena adopts a after an append to the arena (makeRoom checked its size).
func (ix *Index) setArena(a []byte) { ix.arena = a }

// reserveArena makes room for n more bytes. Growing by a quarter rather than append's doubling
// keeps the unused tail of a large arena small.
func (ix *Index) reserveArena(n int) {
	if cap(ix.arena)-len(ix.arena) >= n {
		return
	}
	a := make([]byte, len(ix.arena), len(ix.arena)+max(n, cap(ix.arena)/4))
	adviseHuge(a)
	copy(a, ix.arena)
	ix.arena = a
}

// compactIfWasteful rewrites the arena without the strings of deleted and replaced entities
// once they are half of it: a long-lived index sees every entity rewritten many times.
func (ix *Index) compactIfWasteful() {
	if ix.garbage < compactMin || ix.garbage*2 < len(ix.arena) {
		return
	}
	ix.compact()
}

func (ix *Index) compact() {
	live := len(ix.arena) - ix.garbage
	a := make([]byte, 0, live+live/8)
	adviseHuge(a)
	for i := range ix.recs {
		r := &ix.recs[i]
		if r.flags&fLive == 0 {
			continue
		}
		off := len(a)
		a = append(a, ix.arena[r.off:r.off+r.size]...)
		r.off = uint32(off)
	}
	ix.arena, ix.garbage = a, 0
	ix.compactions++
}
