package counts

import (
	"slices"
	"unique"
)

// recentAlert is one entry of an entity's recent list: the alert as the record shows it. It
// carries the alert's state, so that Compact may retire the alert to a tombstone while the
// record still lists it (the record does not change). While the alert is held in full, s equals
// the state held.
type recentAlert struct {
	seq uint64
	id  string
	// keys are the entity keys the alert is counted on, stored once for the whole process
	// (unique handles); nil when it is the entity's key alone, the common case.
	keys []unique.Handle[string]
	s    alertState
}

// intern returns keys as unique handles, nil when keys is key alone.
func intern(key string, keys []string) []unique.Handle[string] {
	if len(keys) == 0 || len(keys) == 1 && keys[0] == key {
		return nil
	}
	hs := make([]unique.Handle[string], len(keys))
	for i, k := range keys {
		hs[i] = unique.Make(k)
	}
	return hs
}

// keyStrings returns the entity keys of r, on the entity key.
func (r *recentAlert) keyStrings(key string) []string {
	if r.keys == nil {
		return []string{key}
	}
	out := make([]string, len(r.keys))
	for i, h := range r.keys {
		out[i] = h.Value()
	}
	return out
}

// find returns the index of alert id on side's recent list, or -1.
func (e *entity) find(side uint8, id string) int {
	return slices.IndexFunc(e.recent[side], func(r recentAlert) bool { return r.id == id })
}

// listed returns the side and index of alert id on the recent lists, or index -1.
func (e *entity) listed(id string) (uint8, int) {
	for side := range e.recent {
		if i := e.find(uint8(side), id); i >= 0 {
			return uint8(side), i
		}
	}
	return 0, -1
}

// touch moves the alert to the front of side s.side's recent list with its new state (from the
// list of side from, -1 when it was on none), keeping the entity keys it had there.
func (e *entity) touch(key string, seq uint64, id string, from int, s alertState, keys []string) {
	if from >= 0 {
		if i := e.find(uint8(from), id); i >= 0 {
			old := e.recent[from][i]
			keys = union(old.keyStrings(key), keys)
			e.recent[from] = slices.Delete(e.recent[from], i, i+1)
		}
	}
	if len(keys) > MaxEntityKeys {
		keys = keys[:MaxEntityKeys]
	}
	list := e.recent[s.side]
	if len(list) == RecentMax {
		list = list[:RecentMax-1]
	}
	e.recent[s.side] = slices.Insert(list, 0, recentAlert{seq: seq, id: id, keys: intern(key, keys), s: s})
}

// addKeys adds entity keys to the alert's entry on side's recent list, if it is there, and
// reports whether it gained one.
func (e *entity) addKeys(key string, side uint8, id string, keys []string) bool {
	i := e.find(side, id)
	if i < 0 {
		return false
	}
	r := &e.recent[side][i]
	had := r.keyStrings(key)
	if len(had) >= MaxEntityKeys {
		return false
	}
	merged := union(had, keys)
	if len(merged) > MaxEntityKeys {
		merged = merged[:MaxEntityKeys]
	}
	if len(merged) == len(had) {
		return false
	}
	r.keys = intern(key, merged)
	return true
}

// newest merges the recent lists of the sides keep accepts, newest first, and calls yield for
// each until it returns false.
func (e *entity) newest(keep func(side int) bool, yield func(r *recentAlert) bool) {
	var at [numSides]int
	for {
		best := -1
		for s := range numSides {
			if keep(s) && at[s] < len(e.recent[s]) && (best < 0 || e.recent[s][at[s]].seq > e.recent[best][at[best]].seq) {
				best = s
			}
		}
		if best < 0 || !yield(&e.recent[best][at[best]]) {
			return
		}
		at[best]++
	}
}
