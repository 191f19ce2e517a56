package detection

import (
	"sort"
	"sync"
	"time"
)

// Burst counts, per key (a source address, a requesting account), the distinct values seen
// within a sliding window of event time (accounts tried, SPNs requested, objects read), for
// threshold detectors. Once a key reaches the threshold an episode starts; it lasts while
// events keep coming less than Window apart, so every event of one attack maps to the same
// episode and thus the same alert id. Memory is bounded by MaxKeys (oldest keys dropped) and
// by the window.
type Burst struct {
	Window    time.Duration
	Threshold int
	MaxKeys   int

	mu   sync.Mutex
	keys map[string]*burstKey
}

type burstKey struct {
	seen     map[string]time.Time // value -> last time
	last     time.Time
	episode  time.Time // zero until the threshold is reached
	distinct int       // distinct values in the current episode
}

// Episode is the state of a key after an event.
type Episode struct {
	// Active is true once the key reached the threshold, for every later event of the episode.
	Active bool
	// Start is the time of the event that reached the threshold: the episode's name.
	Start time.Time
	// Distinct values within the window (or over the whole episode, once active).
	Distinct int
}

// Add records value for key at t and returns the key's episode.
func (b *Burst) Add(key, value string, t time.Time) Episode {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.keys == nil {
		b.keys = map[string]*burstKey{}
	}
	k, ok := b.keys[key]
	if !ok || t.Sub(k.last) > b.Window {
		// The new key is the most recently active one: eviction must not drop it.
		k = &burstKey{seen: map[string]time.Time{}, last: t}
		b.keys[key] = k
		b.evict()
	}
	if t.After(k.last) {
		k.last = t
	}
	_, known := k.seen[value]
	k.seen[value] = t
	if !k.episode.IsZero() {
		if !known {
			k.distinct++
		}
		return Episode{Active: true, Start: k.episode, Distinct: k.distinct}
	}
	for v, seen := range k.seen {
		if t.Sub(seen) > b.Window {
			delete(k.seen, v)
		}
	}
	if len(k.seen) >= b.Threshold {
		k.episode, k.distinct = t, len(k.seen)
		return Episode{Active: true, Start: t, Distinct: k.distinct}
	}
	return Episode{Distinct: len(k.seen)}
}

// evict drops the least recently active keys past MaxKeys; called with mu held.
func (b *Burst) evict() {
	if b.MaxKeys <= 0 || len(b.keys) <= b.MaxKeys {
		return
	}
	type kv struct {
		key  string
		last time.Time
	}
	all := make([]kv, 0, len(b.keys))
	for key, k := range b.keys {
		all = append(all, kv{key, k.last})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].last.Before(all[j].last) })
	for _, x := range all[:len(all)-b.MaxKeys] {
		delete(b.keys, x.key)
	}
}
