package counts

import "container/heap"

// activity indexes the first and last activity of an entity's alerts held in full, per side, for
// an entity whose alerts outgrew the small set: when an update takes a side's first or last
// activity away from the last alert holding it, the next one is the top of a heap (O(log n)
// amortised) instead of a scan of the entity's alerts. Built on first need, kept up to date from
// then on, dropped when the alerts fit the small set again. 16 bytes per alert, plus the
// removals not yet popped.
type activity struct {
	first, last [numSides]lazyHeap // last holds negated times: both are min-heaps
}

// lazyHeap is a min-heap of times with lazy removal: a removed time is noted in gone and
// popped when it reaches the top; past twice the live times, the heap is rebuilt without them.
type lazyHeap struct {
	h    int64Heap
	gone map[int64]int32
	live int
}

func (l *lazyHeap) push(v int64) {
	heap.Push(&l.h, v)
	l.live++
	if len(l.h) > 2*l.live+64 {
		l.purge()
	}
}

func (l *lazyHeap) remove(v int64) {
	if l.gone == nil {
		l.gone = map[int64]int32{}
	}
	l.gone[v]++
	l.live--
}

// min returns the smallest live time, or ok false when there is none.
func (l *lazyHeap) min() (v int64, ok bool) {
	for len(l.h) > 0 {
		top := l.h[0]
		if n := l.gone[top]; n > 0 {
			l.drop(top, n)
			heap.Pop(&l.h)
			continue
		}
		return top, true
	}
	return 0, false
}

func (l *lazyHeap) drop(v int64, n int32) {
	if n == 1 {
		delete(l.gone, v)
	} else {
		l.gone[v] = n - 1
	}
}

// purge rebuilds the heap without the removed times.
func (l *lazyHeap) purge() {
	kept := l.h[:0]
	for _, v := range l.h {
		if n := l.gone[v]; n > 0 {
			l.drop(v, n)
			continue
		}
		kept = append(kept, v)
	}
	l.h, l.gone = append(int64Heap(nil), kept...), nil
	heap.Init(&l.h)
}

type int64Heap []int64

func (h int64Heap) Len() int           { return len(h) }
func (h int64Heap) Less(i, j int) bool { return h[i] < h[j] }
func (h int64Heap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *int64Heap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *int64Heap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

// indexHold and indexRelease keep the index, if there is one, in step with an alert entering or
// leaving the alerts held in full.
func (e *entity) indexHold(s alertState)    { e.indexed(s, (*lazyHeap).push) }
func (e *entity) indexRelease(s alertState) { e.indexed(s, (*lazyHeap).remove) }

// indexed applies f to the heaps of s's side with s's first and (negated) last activity.
func (e *entity) indexed(s alertState, f func(*lazyHeap, int64)) {
	if e.index == nil {
		return
	}
	if s.first != noFirst {
		f(&e.index.first[s.side], s.first)
	}
	if s.last != noLast {
		f(&e.index.last[s.side], -s.last)
	}
}

// extremes returns the side's first and last activity over the alerts held in full from the
// index, building it when the alerts are many and it is not there yet; ok is false when the
// alerts are few (a scan costs as little).
func (e *entity) extremes(side uint8) (first, last int64, ok bool) {
	if e.index == nil {
		if e.alerts.big == nil {
			return 0, 0, false
		}
		e.index = &activity{}
		for _, s := range e.alerts.all {
			e.indexHold(s)
		}
	}
	first, last = noFirst, noLast
	if v, ok := e.index.first[side].min(); ok {
		first = v
	}
	if v, ok := e.index.last[side].min(); ok {
		last = -v
	}
	return first, last, true
}
