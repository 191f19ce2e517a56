package domain

import (
	"slices"
	"sort"
)

// chunkLen is the length a chunk of a timeList is split back to; a chunk holds at most twice
// that. Inserting or removing moves at most one chunk's pointers, plus one pointer per chunk
// when a chunk splits or empties, so the cost stays flat at a million alerts.
const chunkLen = 256

// timeList keeps held alerts sorted by time, then id, in chunks: inserting and removing cost
// no more with a long history than with a short one, and a time range is found by binary
// search.
type timeList struct {
	chunks [][]*held
	n      int
}

// earlier orders alerts by time, then id, as incidents list them.
func earlier(a, b *held) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.id < b.id
}

// find returns the chunk and the index in it where x is, or would go.
func (l *timeList) find(x *held) (int, int) {
	ci := sort.Search(len(l.chunks), func(c int) bool {
		chunk := l.chunks[c]
		return !earlier(chunk[len(chunk)-1], x)
	})
	if ci == len(l.chunks) {
		if ci == 0 {
			return 0, 0
		}
		return ci - 1, len(l.chunks[ci-1])
	}
	chunk := l.chunks[ci]
	return ci, sort.Search(len(chunk), func(i int) bool { return !earlier(chunk[i], x) })
}

// insert adds x, which must not be in the list.
func (l *timeList) insert(x *held) {
	l.n++
	if len(l.chunks) == 0 {
		l.chunks = [][]*held{{x}}
		return
	}
	ci, i := l.find(x)
	chunk := slices.Insert(l.chunks[ci], i, x)
	if len(chunk) <= 2*chunkLen {
		l.chunks[ci] = chunk
		return
	}
	// Split: the first half keeps the array (capped, so appending to it never writes over the
	// second half), the second half gets its own.
	second := slices.Clone(chunk[chunkLen:])
	l.chunks[ci] = chunk[:chunkLen:chunkLen]
	l.chunks = slices.Insert(l.chunks, ci+1, second)
}

// remove takes x out of the list, if it is there, with the time it was inserted with.
func (l *timeList) remove(x *held) {
	ci, i := l.find(x)
	if ci >= len(l.chunks) || i >= len(l.chunks[ci]) || l.chunks[ci][i] != x {
		return
	}
	l.n--
	chunk := slices.Delete(l.chunks[ci], i, i+1)
	if len(chunk) == 0 {
		l.chunks = slices.Delete(l.chunks, ci, ci+1)
		return
	}
	l.chunks[ci] = chunk
}

// first returns the earliest alert, or nil.
func (l *timeList) first() *held {
	if len(l.chunks) == 0 {
		return nil
	}
	return l.chunks[0][0]
}

// ascend calls fn on the alerts from time from on, earliest first, until fn returns false.
func (l *timeList) ascend(from int64, fn func(*held) bool) {
	ci := sort.Search(len(l.chunks), func(c int) bool {
		chunk := l.chunks[c]
		return chunk[len(chunk)-1].at >= from
	})
	for ; ci < len(l.chunks); ci++ {
		chunk := l.chunks[ci]
		i := 0
		if chunk[0].at < from {
			i = sort.Search(len(chunk), func(j int) bool { return chunk[j].at >= from })
		}
		for ; i < len(chunk); i++ {
			if !fn(chunk[i]) {
				return
			}
		}
	}
}
