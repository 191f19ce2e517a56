package app

import (
	"context"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// AllKeys is the change notice meaning every badge may have changed (a toggle or a link
// template moved).
const AllKeys = "*"

// View is the in-memory copy of the badges, devices and configuration buckets that requests are
// served from, kept current by watchers, so a GetBadge makes no NATS round trip. It implements
// Store, and tells subscribers which keys changed.
//
// Records and device records are held encoded and decoded when read: decoded, each is a graph
// of objects (a record's recent alerts, a device's timestamps) that every collection of the
// process must mark, and a collection that lasts longer holds up more requests (the GetBadge
// p99 at concurrency 16 and 64 after a load, docs/performance.md). Most reads are of answers
// built ahead (Answers), so a decode happens per change, not per request.
type View struct {
	// OnChange, when set before the watchers start, is called with every changed key (AllKeys
	// for configuration) once the view holds the change and before subscribers hear of it, so
	// that what they read then is already current (Answers.Changed).
	OnChange func(key string)

	mu         sync.RWMutex
	counts     map[string][]byte // adjoinv1.EntityCounts, encoded
	devices    map[string][]byte // adjoinv1.DeviceRecord, encoded
	config     map[string]string
	subs       map[int]chan string
	nextSub    int
	lastChange time.Time
}

var _ Store = (*View)(nil)

// NewView returns an empty view.
func NewView() *View {
	return &View{counts: map[string][]byte{}, devices: map[string][]byte{},
		config: map[string]string{}, subs: map[int]chan string{}}
}

// Counts implements Store.
func (v *View) Counts(_ context.Context, key string) (*adjoinv1.EntityCounts, bool, error) {
	v.mu.RLock()
	raw, ok := v.counts[key]
	v.mu.RUnlock() // held bytes are replaced, never changed
	ec := &adjoinv1.EntityCounts{}
	if !ok {
		ec.EntityKey = key
		return ec, false, nil
	}
	if err := proto.Unmarshal(raw, ec); err != nil {
		return nil, false, err
	}
	return ec, true, nil
}

// Device implements Store.
func (v *View) Device(_ context.Context, key string) (*adjoinv1.DeviceRecord, bool, error) {
	v.mu.RLock()
	raw, ok := v.devices[key]
	v.mu.RUnlock()
	if !ok {
		return nil, false, nil
	}
	rec := &adjoinv1.DeviceRecord{}
	if err := proto.Unmarshal(raw, rec); err != nil {
		return nil, false, err
	}
	return rec, true, nil
}

// IntegrationEnabled implements Store: a missing toggle means on.
func (v *View) IntegrationEnabled(_ context.Context, side adjoinv1.Side) (bool, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	val, ok := v.config[ToggleKey(side)]
	return !ok || ToggleOn(val), nil
}

// Config returns a configuration value.
func (v *View) Config(key string) (string, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	val, ok := v.config[key]
	return val, ok
}

// SetCounts stores (nil: removes) an entity's counts and tells subscribers.
func (v *View) SetCounts(key string, ec *adjoinv1.EntityCounts) {
	if ec == nil {
		v.PutCounts(key, nil)
		return
	}
	v.PutCounts(key, encode(ec))
}

// PutCounts stores (nil: removes) an entity's counts as encoded in its bucket, and tells
// subscribers. The view keeps raw: the caller must not change it after, and must have checked
// that it decodes.
func (v *View) PutCounts(key string, raw []byte) { v.put(v.counts, key, raw) }

// SetDevice stores (nil: removes) a device record and tells subscribers.
func (v *View) SetDevice(key string, rec *adjoinv1.DeviceRecord) {
	if rec == nil {
		v.PutDevice(key, nil)
		return
	}
	v.PutDevice(key, encode(rec))
}

// PutDevice is PutCounts for a device record.
func (v *View) PutDevice(key string, raw []byte) { v.put(v.devices, key, raw) }

func (v *View) put(m map[string][]byte, key string, raw []byte) {
	v.mu.Lock()
	if raw == nil {
		delete(m, key)
	} else {
		m[key] = raw
	}
	v.mu.Unlock()
	v.notify(key)
}

// encode is m's encoding, never nil (nil means removed): an empty message is a zero-length
// slice.
func encode(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil || b == nil {
		b = []byte{} // a message built in this process always encodes
	}
	return b
}

// SetConfig stores (deleted: removes) a configuration value; every badge may change.
func (v *View) SetConfig(key, value string, deleted bool) {
	v.mu.Lock()
	if deleted {
		delete(v.config, key)
	} else {
		v.config[key] = value
	}
	v.mu.Unlock()
	v.notify(AllKeys)
}

// Changed tells subscribers that key changed without storing anything (a directory entity).
func (v *View) Changed(key string) { v.notify(key) }

// Size returns how many entities have counts and how many device records are held.
func (v *View) Size() (counts, devices int) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.counts), len(v.devices)
}

// Subscribe returns a channel of changed keys and a function that ends the subscription. A
// subscriber too slow to keep up is sent AllKeys instead of the keys it missed.
func (v *View) Subscribe() (<-chan string, func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	id := v.nextSub
	v.nextSub++
	ch := make(chan string, 1024)
	v.subs[id] = ch
	return ch, func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		if _, ok := v.subs[id]; ok {
			delete(v.subs, id)
			close(ch)
		}
	}
}

func (v *View) notify(key string) {
	if v.OnChange != nil {
		v.OnChange(key)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastChange = time.Now()
	for _, ch := range v.subs {
		select {
		case ch <- key:
		default:
			// Full: every key waiting is replaced by one AllKeys; nothing is lost, only merged.
			// Replacing one key only would fill a slow subscriber's channel with AllKeys, each
			// a resend of everything it follows: a watch of 1,000 entities spent seconds of
			// CPU so under a burst of alerts.
			drain(ch)
			ch <- AllKeys
		}
	}
}

// drain empties ch; only notify sends on it, under the view's lock.
func drain(ch chan string) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// ToggleKey is the adjoin_config key of a side's integration toggle; its value is "on" or "off"
// ("false", "disabled", "0" and "no" also mean off; a missing key means on).
func ToggleKey(side adjoinv1.Side) string {
	return "integration." + strings.TrimPrefix(strings.ToLower(side.String()), "side_")
}

// ToggleOn reads a toggle value.
func ToggleOn(value string) bool {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "off", "false", "disabled", "0", "no":
		return false
	}
	return true
}

// LinkKey is the adjoin_config key of a side's deep link template.
func LinkKey(side adjoinv1.Side) string {
	return "link." + strings.TrimPrefix(strings.ToLower(side.String()), "side_")
}
