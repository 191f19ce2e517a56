package counts

import (
	"slices"
	"strings"
	"unique"
)

// recentAlert is one entry of an entity's recent list: the alert as the record shows it. It
// carries the alert's state, so that Compact may retire the alert to a tombstone while the
// record still lists it (the record does not change). While the alert is held in full, s equals
// the state held. 64 bytes.
type recentAlert struct {
	seq uint64
	id  string
	// keys are the entity keys the alert is counted on, joined by keySep and stored once for
	// the whole process (a unique handle); the zero handle when it is the entity's key alone,
	// the common case.
	keys unique.Handle[string]
	s    alertState
}

// keySep joins entity keys in a recent entry: no entity key holds it (see checkRecord and the
// owner's checks).
const keySep = "\x00"

// intern returns keys as one unique handle, the zero handle when keys is key alone.
func intern(key string, keys []string) unique.Handle[string] {
	if len(keys) == 0 || len(keys) == 1 && keys[0] == key {
		return unique.Handle[string]{}
	}
	return unique.Make(strings.Join(keys, keySep))
}

// keyStrings returns the entity keys of r, on the entity key.
func (r *recentAlert) keyStrings(key string) []string {
	if r.keys == (unique.Handle[string]{}) {
		return []string{key}
	}
	return strings.Split(r.keys.Value(), keySep)
}

// find returns the index of alert id on the recent list, or -1.
func (e *entity) find(id string) int {
	return slices.IndexFunc(e.recent, func(r recentAlert) bool { return r.id == id })
}

// touch moves the alert to the front of the recent list with its new state, keeping the entity
// keys it had there (fresh: the alert is known not to be on the list); the list then keeps at
// most RecentMax entries of the alert's side (the oldest of that side leaves).
func (e *entity) touch(key string, seq uint64, id string, s alertState, keys []string, fresh bool) {
	if i := -1; !fresh {
		if i = e.find(id); i >= 0 {
			keys = union(e.recent[i].keyStrings(key), keys)
			e.recent = slices.Delete(e.recent, i, i+1)
		}
	}
	if len(keys) > MaxEntityKeys {
		keys = keys[:MaxEntityKeys]
	}
	if len(e.recent) >= RecentMax && e.onSide(s.side) == RecentMax {
		for i := len(e.recent) - 1; i >= 0; i-- {
			if e.recent[i].s.side == s.side {
				e.recent = slices.Delete(e.recent, i, i+1)
				break
			}
		}
	}
	e.recent = slices.Insert(e.recent, 0, recentAlert{seq: seq, id: id, keys: intern(key, keys), s: s})
}

// onSide returns how many entries of the recent list are of side.
func (e *entity) onSide(side uint8) int {
	n := 0
	for i := range e.recent {
		if e.recent[i].s.side == side {
			n++
		}
	}
	return n
}

// addKeys adds entity keys to the alert's entry on the recent list, if it is there, and reports
// whether it gained one.
func (e *entity) addKeys(key string, id string, keys []string) bool {
	i := e.find(id)
	if i < 0 {
		return false
	}
	r := &e.recent[i]
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

// newest calls yield for the entries of the sides keep accepts, newest first, until it returns
// false.
func (e *entity) newest(keep func(side int) bool, yield func(r *recentAlert) bool) {
	for i := range e.recent {
		if keep(int(e.recent[i].s.side)) && !yield(&e.recent[i]) {
			return
		}
	}
}
