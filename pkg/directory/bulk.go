package directory

// Loading a directory puts each entity's names at random places of a table of hundreds of
// megabytes: one cache and TLB miss per name, most of the load time. While Follow loads a
// bucket, the index therefore queues every name of every entity and, every pendingChunk names,
// sorts the queue by table position and inserts it in one ascending sweep. The queue is kept in
// the order names were written, and the sort is stable, so the last entity written still wins
// a shared name. A key written twice is found in the sweep, when the later entity takes the
// key's slot: the earlier one is then dropped as a rewrite would have dropped it. Every read
// settles the queue first: nothing reads a half-indexed directory.

// pendingChunk is how many names wait before a sweep: 6 MiB of queue, and as much to sort it.
const pendingChunk = 1 << 19

type pendingName struct {
	hash uint32
	rec  uint32
	kind nameKind
}

// beginBulk starts queueing names.
func (ix *Index) beginBulk() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.bulk = true
}

// endBulk indexes the queued names and goes back to indexing each name as it comes.
func (ix *Index) endBulk() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.flush()
	ix.bulk = false
	ix.pending, ix.sorted = nil, nil
}

// settle indexes queued names before a lookup by name.
func (ix *Index) settle() {
	if !ix.hasPending.Load() {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.flush()
}

// queue defers one name of record rec. Called with mu held.
func (ix *Index) queue(kind nameKind, h, rec uint32) {
	if ix.pending == nil {
		ix.pending = make([]pendingName, 0, pendingChunk)
	}
	ix.pending = append(ix.pending, pendingName{hash: h, rec: rec, kind: kind})
	ix.hasPending.Store(true)
}

// flush inserts the queued names in the order of their table position. Called with mu held.
func (ix *Index) flush() {
	if len(ix.pending) == 0 {
		return
	}
	ix.names.grow(ix.names.used + len(ix.pending))
	sorted := ix.pending // a few names, as a read during a load leaves: in the order written
	if len(ix.pending) >= sortMin {
		sorted = ix.sortPending()
	}
	var rewritten []uint32
	for _, p := range sorted {
		if prev, ok := ix.setName(p.kind, p.hash, p.rec, nil); ok && prev != p.rec && (p.kind == nameGUID || p.kind == nameSIDKey) {
			rewritten = append(rewritten, prev)
		}
	}
	ix.pending = ix.pending[:0]
	ix.hasPending.Store(false)
	for _, i := range rewritten {
		ix.unindex(i)
		ix.free = append(ix.free, i)
	}
}

// sortMin is the number of queued names from which flush sorts them by table position: below
// it, the sort's 256 KiB of counters cost more than the misses it saves (a reader that settles
// the queue while Follow loads flushes a few names at a time).
const sortMin = 1 << 12

// sortPending returns the queue in table order: a stable counting sort on the top 16 bits of
// the hash, which orders by table position (nameTable.start) closely enough for the sweep to
// go through memory in order.
func (ix *Index) sortPending() []pendingName {
	var counts [1 << 16]int32
	for _, p := range ix.pending {
		counts[p.hash>>16]++
	}
	sum := int32(0)
	for i, c := range counts {
		counts[i] = sum
		sum += c
	}
	if cap(ix.sorted) < len(ix.pending) {
		ix.sorted = make([]pendingName, len(ix.pending), cap(ix.pending))
	}
	sorted := ix.sorted[:len(ix.pending)]
	for _, p := range ix.pending {
		sorted[counts[p.hash>>16]] = p
		counts[p.hash>>16]++
	}
	return sorted
}

// setName points a name of record rec at it: a bare sAMAccountName beside others of the same
// name, any other name instead of the entity it pointed at. name is the name when the caller
// has it at hand; nil recomputes it from the record for the rare hash collision.
func (ix *Index) setName(kind nameKind, h, rec uint32, name []byte) (prev uint32, replaced bool) {
	if kind == nameBareSAM {
		ix.names.add(h, rec)
		return 0, false
	}
	return ix.names.set(h, rec, func(other uint32) bool {
		if name != nil {
			return ix.hasName(other, kind, string(name))
		}
		return ix.sameName(kind, h, rec, other)
	})
}

// sameName reports whether record other has the name of kind and hash h that record rec has.
func (ix *Index) sameName(kind nameKind, h, rec, other uint32) bool {
	r := &ix.recs[rec]
	f := ix.fields(r)
	var buf [256]byte
	b, ends, n := ix.appendNames(buf[:0], r, &f, kind)
	start := 0
	for _, end := range ends[:n] {
		if name := b[start:end]; ix.names.hashBytes(kind, name) == h && ix.hasName(other, kind, string(name)) {
			return true
		}
		start = end
	}
	return false
}
