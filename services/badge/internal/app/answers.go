package app

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// DefaultAnswers is how many badge answers Answers keeps by default: the entities a portal's
// users look at, for 13 to 26 MB (an answer is ~800 B when it shares the index's directory
// entry, up to ~1.6 KB with its own copy), under 30 B per entity at a million entities.
const DefaultAnswers = 16384

// answerBytes is the encoded bytes Answers allows per answer it may hold: the cache keeps at most
// max*answerBytes in all, so that max answers of entities with large memberships (an answer may
// encode up to MaxAnswerBytes) cannot take max times that. An answer larger than an eighth of
// the budget is served but not kept.
const answerBytes = 2 << 10

// minAnswerBytes is the least byte budget, so that a small cache still keeps ordinary answers.
const minAnswerBytes = 1 << 20

// Answers keeps ready-built GetBadge answers, so that serving one is a lookup and a message
// already built instead of summarising the entity's record, looking up its devices and
// building its links on every call. It holds at most max answers (the entities asked about
// recently, CLOCK eviction) and at most max*answerBytes (>= 1 MiB) of encoded answers, never one per
// directory entity, so its memory does not grow with the directory or with entity sizes. An answer is dropped when anything it was built from changes (Changed): the
// entity's record or directory entry, a device record under its key or one of its name keys,
// or any configuration; one that was in use is built again at once.
//
// Cached answers are shared by every caller and must never be modified.
type Answers struct {
	badges   *Badges
	max      int
	maxBytes int

	mu     sync.RWMutex
	byKey  map[string]*answer
	byName map[string]string // device name key -> key of the cached entity it may name
	ring   []*answer         // every cached answer; the CLOCK hand sweeps it when one must go
	hand   int
	bytes  int // encoded bytes of the cached answers
	// epoch moves on every change: an answer built across a change may hold the state before
	// it, so it is served once but not kept.
	epoch uint64
}

type answer struct {
	key  string
	resp *adjoinv1.GetBadgeResponse
	slot int         // index in ring
	size int         // encoded bytes of resp
	used atomic.Bool // asked for since the hand last passed
}

// NewAnswers returns an empty cache of b's answers holding at most max (<= 0: DefaultAnswers).
func NewAnswers(b *Badges, max int) *Answers {
	if max <= 0 {
		max = DefaultAnswers
	}
	budget := minAnswerBytes
	if max*answerBytes > budget {
		budget = max * answerBytes
	}
	return &Answers{badges: b, max: max, maxBytes: budget, byKey: map[string]*answer{}, byName: map[string]string{}}
}

// ForKey returns the answer for the directory entity with key, built by Badges.Of when not
// cached: a cached answer costs a map lookup, no entity is built. ErrNotFound when the
// directory no longer holds the entity (removed since key was resolved).
func (a *Answers) ForKey(ctx context.Context, key string) (*adjoinv1.GetBadgeResponse, error) {
	a.mu.RLock()
	c, ok := a.byKey[key]
	epoch := a.epoch
	a.mu.RUnlock()
	if ok {
		c.used.Store(true)
		return c.resp, nil
	}
	// Read after epoch: an entity changed since is built afresh here and not kept by fill.
	e, ok := a.badges.Index.Get(key)
	if !ok {
		return nil, fmt.Errorf("%w (key %s removed)", ErrNotFound, key)
	}
	return a.fill(ctx, e, epoch)
}

// fill builds e's answer and keeps it unless a change came since epoch was read.
func (a *Answers) fill(ctx context.Context, e *adjoinv1.Entity, epoch uint64) (*adjoinv1.GetBadgeResponse, error) {
	b, err := a.badges.Of(ctx, e)
	if err != nil {
		return nil, err
	}
	resp := &adjoinv1.GetBadgeResponse{Badge: b}
	size := proto.Size(resp)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.epoch == epoch && size <= a.maxBytes/8 {
		a.put(e.GetKey(), resp, size)
	}
	return resp, nil
}

// Changed drops the answers key may change (AllKeys: every answer) and builds again those that
// were cached. Call it once the change is visible to Badges.Of (View.OnChange does).
func (a *Answers) Changed(key string) {
	a.mu.Lock()
	a.epoch++
	if key == AllKeys {
		clear(a.byKey)
		clear(a.byName)
		clear(a.ring)
		a.ring, a.hand, a.bytes = a.ring[:0], 0, 0
		a.mu.Unlock()
		return
	}
	var stale []string
	if c, ok := a.byKey[key]; ok {
		a.remove(c)
		stale = append(stale, key)
	}
	if k, ok := a.byName[key]; ok { // a device recorded under one of a cached entity's names
		a.remove(a.byKey[k])
		stale = append(stale, k)
	}
	epoch := a.epoch
	a.mu.Unlock()
	for _, k := range stale {
		if e, ok := a.badges.Index.Get(k); ok {
			// An error leaves the answer out; the next request builds it and reports the error.
			_, _ = a.fill(context.Background(), e, epoch)
		}
	}
}

// Len returns how many answers are cached.
func (a *Answers) Len() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.byKey)
}

// Bytes returns the encoded bytes of the cached answers.
func (a *Answers) Bytes() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.bytes
}

// put caches resp (size encoded bytes) under key; a.mu is held.
func (a *Answers) put(key string, resp *adjoinv1.GetBadgeResponse, size int) {
	if old, ok := a.byKey[key]; ok { // built twice at once
		a.remove(old)
	}
	for len(a.ring) > 0 && (len(a.ring) >= a.max || a.bytes+size > a.maxBytes) {
		a.evict()
	}
	c := &answer{key: key, resp: resp, size: size}
	a.bytes += size
	for _, n := range c.names() {
		// One cached entity per name key, so a device change finds every answer it touches.
		if other, ok := a.byName[n]; ok && other != key {
			a.remove(a.byKey[other])
		}
		a.byName[n] = key
	}
	c.slot = len(a.ring)
	a.byKey[key] = c
	a.ring = append(a.ring, c)
}

// remove drops c (nil: nothing); a.mu is held.
func (a *Answers) remove(c *answer) {
	if c == nil || a.byKey[c.key] != c {
		return
	}
	delete(a.byKey, c.key)
	a.bytes -= c.size
	for _, n := range c.names() {
		if a.byName[n] == c.key {
			delete(a.byName, n)
		}
	}
	last := len(a.ring) - 1
	a.ring[c.slot] = a.ring[last]
	a.ring[c.slot].slot = c.slot
	a.ring[last] = nil
	a.ring = a.ring[:last]
}

// names are the device name keys of the answer's entity (entity.NameKeys), worked out again
// when needed rather than kept beside every answer.
func (c *answer) names() []string { return entity.NameKeys(c.resp.GetBadge().GetEntity()) }

// evict drops the first answer the hand finds not asked for since it last passed; a.mu is
// held and the ring is not empty.
func (a *Answers) evict() {
	for {
		if a.hand >= len(a.ring) {
			a.hand = 0
		}
		c := a.ring[a.hand]
		if c.used.Swap(false) {
			a.hand++
			continue
		}
		a.remove(c) // the last answer moves into this slot and is looked at next
		return
	}
}
