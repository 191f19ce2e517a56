package app

import (
	"container/heap"
	"sort"
	"sync"
	"time"

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
// Each incident is held encoded, with only what the index needs beside it: a decoded incident
// is a graph of dozens of objects (alert ids, reasons, timestamps) that every collection of
// the process must mark. With 54,000 incidents held, adjoin-badge's collections took 30-40 ms
// and the GetBadge calls that fell in one took the p99 at concurrency 1 to four times that of a
// minimal server. ListEntityIncidents decodes the few it returns.
type Incidents struct {
	// OnChange, when set before the index is filled, is called with every entity key whose
	// incidents changed, outside the lock.
	OnChange func(key string)

	mu        sync.RWMutex
	perEntity int
	max       int
	byID      map[string]*held
	byEntity  map[string][]entry // most recent first
	age       ageHeap            // oldest last activity on top
}

// held is one incident in the index.
type held struct {
	id     string   // the bucket key
	raw    []byte   // the incident, encoded
	keys   []string // its entity keys
	merged string   // merged_into
	last   time.Time
	pos    int // in the age heap
}

// decode returns the incident h holds, its id set to the bucket key when it has none.
func (h *held) decode() *adjoinv1.Incident {
	inc := &adjoinv1.Incident{}
	_ = proto.Unmarshal(h.raw, inc) // encoded by Set or checked by Put's caller
	if inc.GetId() == "" {
		inc.Id = h.id
	}
	return inc
}

// entry is one incident of an entity's list.
type entry struct {
	id   string
	last time.Time
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
	return &Incidents{perEntity: perEntity, max: max, byID: map[string]*held{}, byEntity: map[string][]entry{}}
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

// Put stores (nil: removes) the state of incident id, decoded as inc and encoded as raw, which
// the index keeps: the caller must not change it after.
func (x *Incidents) Put(id string, inc *adjoinv1.Incident, raw []byte) {
	x.mu.Lock()
	changed := map[string]struct{}{}
	x.remove(id, changed)
	if inc != nil {
		h := &held{id: id, raw: raw, keys: inc.GetEntityKeys(), merged: inc.GetMergedInto(), last: inc.GetLastActivity().AsTime()}
		x.byID[id] = h
		heap.Push(&x.age, h)
		for _, key := range inc.GetEntityKeys() {
			x.link(key, entry{id: id, last: h.last}, changed)
		}
		for len(x.byID) > x.max {
			x.remove(x.age[0].id, changed)
		}
	}
	x.mu.Unlock()
	if x.OnChange != nil {
		for key := range changed {
			x.OnChange(key)
		}
	}
}

// remove drops id from the index and from its entities' lists, noting those entities.
func (x *Incidents) remove(id string, changed map[string]struct{}) {
	h, ok := x.byID[id]
	if !ok {
		return
	}
	heap.Remove(&x.age, h.pos)
	delete(x.byID, id)
	for _, key := range h.keys {
		list := x.byEntity[key]
		for i, e := range list {
			if e.id == id {
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
}

// link puts e in key's list, in order, and keeps the list within perEntity.
func (x *Incidents) link(key string, e entry, changed map[string]struct{}) {
	list := x.byEntity[key]
	i := sort.Search(len(list), func(i int) bool { return newer(e, list[i]) })
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
func newer(a, b entry) bool {
	if !a.last.Equal(b.last) {
		return a.last.After(b.last)
	}
	return a.id < b.id
}

// ForEntity returns up to limit (at most perEntity) of key's incidents, most recent first;
// a merged incident is given as the one it merged into, once.
func (x *Incidents) ForEntity(key string, limit int) []*adjoinv1.Incident {
	if limit < 1 || limit > x.perEntity {
		limit = x.perEntity
	}
	x.mu.RLock()
	var found []*held
	seen := map[string]bool{}
	for _, e := range x.byEntity[key] {
		h := x.resolve(e.id)
		if h == nil || seen[h.id] {
			continue
		}
		seen[h.id] = true
		found = append(found, h)
	}
	x.mu.RUnlock() // a held incident is replaced, never changed: found stays as read
	// Merged incidents come in their list's place: order them again, then decode only those
	// returned.
	sort.SliceStable(found, func(i, j int) bool {
		return newer(entry{found[i].id, found[i].last}, entry{found[j].id, found[j].last})
	})
	out := make([]*adjoinv1.Incident, min(len(found), limit))
	for i := range out {
		out[i] = found[i].decode()
	}
	return out
}

// resolve follows merged_into from id to the incident it now is, nil when that is not held.
func (x *Incidents) resolve(id string) *held {
	for range mergeHops {
		h, ok := x.byID[id]
		if !ok {
			return nil
		}
		if h.merged == "" || h.merged == id {
			return h
		}
		id = h.merged
	}
	return nil
}

// Len returns how many incidents are held (merged ones included) and how many entities have
// a list.
func (x *Incidents) Len() (incidents, entities int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byID), len(x.byEntity)
}

// ageHeap orders held incidents by last activity, oldest first.
type ageHeap []*held

func (a ageHeap) Len() int { return len(a) }
func (a ageHeap) Less(i, j int) bool {
	if !a[i].last.Equal(a[j].last) {
		return a[i].last.Before(a[j].last)
	}
	return a[i].id < a[j].id
}
func (a ageHeap) Swap(i, j int) { a[i], a[j] = a[j], a[i]; a[i].pos = i; a[j].pos = j }

func (a *ageHeap) Push(v any) {
	h := v.(*held)
	h.pos = len(*a)
	*a = append(*a, h)
}

func (a *ageHeap) Pop() any {
	old := *a
	h := old[len(old)-1]
	old[len(old)-1] = nil
	*a = old[:len(old)-1]
	return h
}
