package counts

import (
	"slices"
)

// recentAlert is one entry of an entity's recent list. The alert's state is in the entity's
// alerts (an alert on a recent list is never compacted).
type recentAlert struct {
	seq  uint64
	id   string
	hash alertID
	keys []string
}

// touch moves the alert to the front of side's recent list (from the list of side from, -1 when
// it was on none), keeping the entity keys it had there.
func (e *entity) touch(seq uint64, id string, h alertID, from int, side uint8, keys []string) {
	if from >= 0 {
		list := e.recent[from]
		if i := slices.IndexFunc(list, func(r recentAlert) bool { return r.hash == h }); i >= 0 {
			keys = union(list[i].keys, keys)
			e.recent[from] = slices.Delete(list, i, i+1)
		}
	}
	if len(keys) > MaxEntityKeys {
		keys = keys[:MaxEntityKeys]
	}
	list := e.recent[side]
	if len(list) == RecentMax {
		list = list[:RecentMax-1]
	}
	e.recent[side] = slices.Insert(list, 0, recentAlert{seq: seq, id: id, hash: h, keys: keys})
}

// addKeys adds entity keys to the alert's entry on side's recent list, if it is there, and
// reports whether it gained one.
func (e *entity) addKeys(h alertID, side uint8, keys []string) bool {
	list := e.recent[side]
	i := slices.IndexFunc(list, func(r recentAlert) bool { return r.hash == h })
	if i < 0 || len(list[i].keys) >= MaxEntityKeys {
		return false
	}
	merged := union(list[i].keys, keys)
	if len(merged) > MaxEntityKeys {
		merged = merged[:MaxEntityKeys]
	}
	if len(merged) == len(list[i].keys) {
		return false
	}
	list[i].keys = merged
	return true
}

// newest merges the recent lists of the sides keep accepts, newest first, and calls yield for
// each until it returns false.
func (e *entity) newest(keep func(side int) bool, yield func(r recentAlert) bool) {
	var at [numSides]int
	for {
		best := -1
		for s := range numSides {
			if keep(s) && at[s] < len(e.recent[s]) && (best < 0 || e.recent[s][at[s]].seq > e.recent[best][at[best]].seq) {
				best = s
			}
		}
		if best < 0 || !yield(e.recent[best][at[best]]) {
			return
		}
		at[best]++
	}
}

// inRecent returns the hashes of the alerts on the entity's recent lists.
func (e *entity) inRecent() map[alertID]bool {
	in := map[alertID]bool{}
	for _, list := range e.recent {
		for _, r := range list {
			in[r.hash] = true
		}
	}
	return in
}
