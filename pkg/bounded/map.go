// Package bounded holds the containers whose size must not grow with the input: the
// detectors' session, process and evidence tables.
package bounded

// Map is a map of at most Max keys, first in first out: storing a key past Max forgets the
// key stored longest ago; storing a key already held changes its value and keeps its place.
// Max <= 0 means no bound. A Map is not safe for concurrent use.
type Map[K comparable, V any] struct {
	// Max is the most keys held; set it before the first Put.
	Max   int
	m     map[K]V
	order []K // order[head:] are the keys held, oldest first
	head  int
}

// NewMap returns an empty Map of at most max keys.
func NewMap[K comparable, V any](max int) *Map[K, V] { return &Map[K, V]{Max: max} }

// Get returns the value of k, and whether k is held.
func (b *Map[K, V]) Get(k K) (V, bool) {
	v, ok := b.m[k]
	return v, ok
}

// Put stores v as the value of k, forgetting the oldest key when k is new and the map is full.
func (b *Map[K, V]) Put(k K, v V) {
	if b.m == nil {
		b.m = map[K]V{}
	}
	if _, ok := b.m[k]; !ok {
		b.order = append(b.order, k)
	}
	b.m[k] = v
	var zero K
	for b.Max > 0 && len(b.order)-b.head > b.Max {
		delete(b.m, b.order[b.head])
		b.order[b.head] = zero // the key's memory goes with it
		b.head++
	}
	// Move the keys held to the front once the forgotten ones are half of the slice: each key
	// is moved a bounded number of times, and the slice stays under twice Max (plus append's
	// slack).
	if b.head > 0 && b.head >= len(b.order)/2 {
		n := copy(b.order, b.order[b.head:])
		clear(b.order[n:])
		b.order, b.head = b.order[:n], 0
	}
}

// Len is the number of keys held.
func (b *Map[K, V]) Len() int { return len(b.m) }
