package app

import (
	"bytes"
	"container/heap"
	"sort"
	"sync"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Bounds of the incident index.
const (
	// IncidentsPerEntity is how many incidents the index keeps per entity (the most recent by
	// last activity), and the most ListEntityIncidents returns.
	IncidentsPerEntity = 20
	// DefaultMaxIncidents is how many incidents the index holds in all (merged ones included);
	// past it, the one with the oldest last activity is dropped.
	DefaultMaxIncidents = 100_000
	// mergeHops bounds the chain followed from a merged incident to the one it merged into.
	mergeHops = 8
)

// Incidents is the in-memory index of adjoin_incidents the badge service answers
// ListEntityIncidents from: entity key -> its most recent incidents. It is bounded twice: each
// entity lists at most perEntity incidents (the most recent by last activity; an older one
// pushed out does not come back when a newer one is deleted), and at most max incidents are
// held in all, the oldest by last activity dropped first. An incident merged into another is
// kept as a pointer to it, so that its entities list the incident it became.
//
// What a collection of the process must mark stays a few pointers per incident: each incident
// is one byte slice (its id, merged_into and entity keys, then the incident encoded) in a slot
// of one array, and the lists, the age heap and the free slots are slot numbers. Decoded, an
// incident is a graph of dozens of objects: with 54,000 held, adjoin-badge's collections took
// 30-40 ms, and GetBadge calls that fell in one took the p99 at concurrency 1 to four times a
// minimal server's. Held encoded beside decoded keys, strings and times (until 2026-12-08),
// 304 B per incident were still to mark, most of the process's scannable heap after a load.
// ListEntityIncidents decodes the few it returns.
type Incidents struct {
	// OnChange, when set before the index is filled, is called with every entity key whose
	// incidents changed, outside the lock.
	OnChange func(key string)

	mu        sync.RWMutex
	perEntity int
	max       int
	byID      map[string]int32   // incident id -> slot
	slots     []held             // by slot number; free ones have no bytes
	free      []int32            // slots to reuse
	byEntity  map[string][]entry // most recent first
	age       []int32            // slots, a heap: oldest last activity on top (ages)
}

// entry is one incident of an entity's list.
type entry struct {
	slot int32
	last int64 // the incident's last activity, Unix nanoseconds
}

// NewIncidents returns an empty index of at most perEntity incidents per entity and max in all
// (values below 1 take the defaults).
func NewIncidents(perEntity, max int) *Incidents {
	if perEntity < 1 {
		perEntity = IncidentsPerEntity
	}
	if max < 1 {
		max = DefaultMaxIncidents
	}
	return &Incidents{perEntity: perEntity, max: max, byID: map[string]int32{}, byEntity: map[string][]entry{}}
}

// Set stores (nil: removes) the state of incident id.
func (x *Incidents) Set(id string, inc *adjoinv1.Incident) {
	var raw []byte
	if inc != nil {
		var err error
		if raw, err = proto.Marshal(inc); err != nil {
			return // a message built in this process always encodes
		}
	}
	x.Put(id, inc, raw)
}

// Put stores (nil: removes) the state of incident id, decoded as inc and encoded as raw. The
// index keeps a copy of raw.
func (x *Incidents) Put(id string, inc *adjoinv1.Incident, raw []byte) {
	var h held
	if inc != nil {
		h = newHeld(id, inc, raw)
	}
	x.mu.Lock()
	changed := map[string]struct{}{}
	x.remove(id, changed)
	if inc != nil {
		slot := x.alloc(h)
		x.byID[id] = slot
		heap.Push(ages{x}, slot)
		for key := range h.keys() {
			x.link(string(key), entry{slot: slot, last: h.last}, changed)
		}
		for len(x.byID) > x.max {
			x.remove(string(x.slots[x.age[0]].id()), changed)
		}
	}
	x.mu.Unlock()
	if x.OnChange != nil {
		for key := range changed {
			x.OnChange(key)
		}
	}
}

// alloc puts h in a free slot, or a new one.
func (x *Incidents) alloc(h held) int32 {
	if n := len(x.free); n > 0 {
		slot := x.free[n-1]
		x.free = x.free[:n-1]
		x.slots[slot] = h
		return slot
	}
	x.slots = append(x.slots, h)
	return int32(len(x.slots) - 1)
}

// remove drops id from the index and from its entities' lists, noting those entities.
func (x *Incidents) remove(id string, changed map[string]struct{}) {
	slot, ok := x.byID[id]
	if !ok {
		return
	}
	h := x.slots[slot]
	heap.Remove(ages{x}, int(h.pos))
	delete(x.byID, id)
	for k := range h.keys() {
		key := string(k)
		list := x.byEntity[key]
		for i, e := range list {
			if e.slot == slot {
				list = append(list[:i:i], list[i+1:]...)
				changed[key] = struct{}{}
				break
			}
		}
		if len(list) == 0 {
			delete(x.byEntity, key)
		} else {
			x.byEntity[key] = list
		}
	}
	x.slots[slot] = held{}
	x.free = append(x.free, slot)
}

// link puts e in key's list, in order, and keeps the list within perEntity.
func (x *Incidents) link(key string, e entry, changed map[string]struct{}) {
	list := x.byEntity[key]
	i := sort.Search(len(list), func(i int) bool { return x.newer(e, list[i]) })
	if i >= x.perEntity {
		return // older than every incident kept for key
	}
	list = append(list, entry{})
	copy(list[i+1:], list[i:])
	list[i] = e
	if len(list) > x.perEntity {
		list = list[:x.perEntity]
	}
	x.byEntity[key] = list
	changed[key] = struct{}{}
}

// newer orders entries most recent first, then by id.
func (x *Incidents) newer(a, b entry) bool {
	if a.last != b.last {
		return a.last > b.last
	}
	return bytes.Compare(x.slots[a.slot].id(), x.slots[b.slot].id()) < 0
}

// ForEntity returns up to limit (at most perEntity) of key's incidents, most recent first;
// a merged incident is given as the one it merged into, once.
func (x *Incidents) ForEntity(key string, limit int) []*adjoinv1.Incident {
	if limit < 1 || limit > x.perEntity {
		limit = x.perEntity
	}
	x.mu.RLock()
	var found []held
	seen := map[int32]bool{}
	for _, e := range x.byEntity[key] {
		slot, ok := x.resolve(e.slot)
		if !ok || seen[slot] {
			continue
		}
		seen[slot] = true
		found = append(found, x.slots[slot])
	}
	x.mu.RUnlock() // a held incident's bytes are replaced, never changed: found stays as read
	// Merged incidents come in their list's place: order them again, then decode only those
	// returned.
	sort.SliceStable(found, func(i, j int) bool {
		if found[i].last != found[j].last {
			return found[i].last > found[j].last
		}
		return bytes.Compare(found[i].id(), found[j].id()) < 0
	})
	out := make([]*adjoinv1.Incident, min(len(found), limit))
	for i := range out {
		out[i] = found[i].decode()
	}
	return out
}

// resolve follows merged_into from slot to the incident it now is; false when that is not held.
func (x *Incidents) resolve(slot int32) (int32, bool) {
	for range mergeHops {
		h := &x.slots[slot]
		merged := h.merged()
		if len(merged) == 0 || bytes.Equal(merged, h.id()) {
			return slot, true
		}
		next, ok := x.byID[string(merged)]
		if !ok {
			return 0, false
		}
		slot = next
	}
	return 0, false
}

// Len returns how many incidents are held (merged ones included) and how many entities have
// a list.
func (x *Incidents) Len() (incidents, entities int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byID), len(x.byEntity)
}
