package directory

import "fmt"

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

// setArena adopts a after an append to the arena.
func (ix *Index) setArena(a []byte) {
	if len(a) > maxArena {
		panic(fmt.Sprintf("directory index: %d bytes of names exceed the 4 GiB the index can address", len(a)))
	}
	ix.arena = a
}

// reserveArena makes room for n more bytes. Growing by a quarter rather than append's doubling
// keeps the unused tail of a large arena small.
func (ix *Index) reserveArena(n int) {
	if cap(ix.arena)-len(ix.arena) >= n {
		return
	}
	a := make([]byte, len(ix.arena), len(ix.arena)+max(n, cap(ix.arena)/4))
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
