package domain

import (
	"math"
	"slices"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Bounds of an AlertWindow.
const (
	// DefaultIncidentMemory is how far before the newest alert the window remembers alerts.
	DefaultIncidentMemory = 7 * 24 * time.Hour
	// DefaultMaxWindowAlerts bounds the alerts held: about 250 MB at most (see AlertWindow).
	DefaultMaxWindowAlerts = 1_000_000
	// MaxAlertKeys bounds the entities one alert is held on (a spray naming thousands of
	// accounts); past it, the entities it is counted on later are not linked through.
	MaxAlertKeys = 2000
)

// Alert is what the incident window knows of one alert: its latest version as counted, and the
// entities it is counted on.
type Alert struct {
	ID       string
	Version  int64
	Side     adjoinv1.Side
	Severity adjoinv1.Severity
	Status   adjoinv1.AlertStatus
	// First and Last are its activity; zero when the alert does not say.
	First, Last time.Time
	// Keys are the entities it is counted on; Links are those of them that link it to other
	// alerts in incidents (every one it is not only the target on).
	Keys, Links []string
}

// held is an alert in the window, packed: about 100 bytes, plus its id.
type held struct {
	id       string
	version  int64
	at       int64 // when it happened (first activity, else last), Unix ns: the sort key
	last     int64 // last activity, Unix ns, when hasLast
	side     adjoinv1.Side
	severity adjoinv1.Severity
	status   adjoinv1.AlertStatus
	hasLast  bool
	mark     uint32   // the walk that last reached it (AlertWindow.walks)
	keys     []string // sorted; strings shared with the window's entity index
	links    []string // sorted, a subset of keys
}

// entityAlerts are the alerts counted on one entity, by time.
type entityAlerts struct {
	key  string
	list timeList
}

// AlertWindow is the incident builder's memory of counted alerts: each alert's latest version,
// and per entity the alerts counted on it sorted by time, so that "within the incident window
// of an alert" is a range lookup whose cost does not grow with the entity's history.
//
// Bounds: an alert dated more than Memory before the newest alert held is forgotten, and past
// MaxAlerts the oldest are forgotten first; an alert dated more than a day after the clock is
// not taken (it would make every other alert past Memory). One alert on one entity costs about
// 250 bytes with its id and index entries, so the default bound holds about 250 MB.
//
// Adding is idempotent: an alert version equal to or older than the one held adds only the
// entities it is counted on, as the badge counts do. An AlertWindow is not safe for concurrent
// use: the incident builder, its only user, is one goroutine.
type AlertWindow struct {
	// Memory is how long before the newest alert alerts are remembered (0:
	// DefaultIncidentMemory).
	Memory time.Duration
	// MaxAlerts bounds the alerts held (0: DefaultMaxWindowAlerts).
	MaxAlerts int
	// Now is the clock alerts from the future are judged by (nil: time.Now).
	Now func() time.Time

	byID     map[string]*held
	entities map[string]*entityAlerts
	all      timeList
	newest   int64
	walks    uint32 // walks begun, to mark the alerts a walk reached without a map
}

// NewAlertWindow returns an empty window remembering alerts for memory (0:
// DefaultIncidentMemory).
func NewAlertWindow(memory time.Duration) *AlertWindow {
	if memory <= 0 {
		memory = DefaultIncidentMemory
	}
	return &AlertWindow{Memory: memory, byID: map[string]*held{}, entities: map[string]*entityAlerts{}, newest: math.MinInt64}
}

// Span is Memory, or DefaultIncidentMemory when Memory is not positive.
func (w *AlertWindow) Span() time.Duration {
	if w.Memory <= 0 {
		return DefaultIncidentMemory
	}
	return w.Memory
}

// Len returns how many alerts the window holds.
func (w *AlertWindow) Len() int { return w.all.n }

// Holds reports whether the window holds alert id.
func (w *AlertWindow) Holds(id string) bool { return w.byID[id] != nil }

// Get returns what the window holds of alert id.
func (w *AlertWindow) Get(id string) (Alert, bool) {
	h, ok := w.byID[id]
	if !ok {
		return Alert{}, false
	}
	a := Alert{ID: h.id, Version: h.version, Side: h.side, Severity: h.severity, Status: h.status,
		Keys: slices.Clone(h.keys), Links: slices.Clone(h.links)}
	if h.hasLast {
		a.Last = time.Unix(0, h.last).UTC()
	}
	a.First = time.Unix(0, h.at).UTC() // as incidents date it
	return a, true
}

// Add records alert a and reports whether the window changed: a new alert, a newer version, or
// an entity more for one held. An alert with no id or no entity, dated more than a day after
// the clock, or before 1678 (out of Unix-nanosecond range) is not taken.
func (w *AlertWindow) Add(a Alert) bool {
	at, ok := alertNanos(a)
	if !ok || a.ID == "" || len(a.Keys)+len(a.Links) == 0 || at > w.now().Add(futureSlack).UnixNano() {
		return false
	}
	version := max(a.Version, 1)
	h, exists := w.byID[a.ID]
	changed := false
	switch {
	case !exists:
		h = &held{id: a.ID, version: version, at: at}
		h.set(a)
		w.byID[a.ID] = h
		w.all.insert(h)
		changed = true
	case version > h.version:
		if at != h.at {
			w.unlist(h)
			h.at = at
			w.relist(h)
		}
		h.version = version
		h.set(a)
		changed = true
	}
	if w.addKeys(h, a.Keys, a.Links) {
		changed = true
	}
	w.newest = max(w.newest, at)
	w.forget()
	if _, still := w.byID[a.ID]; !still {
		return false
	}
	return changed
}

// set takes the content of a version.
func (h *held) set(a Alert) {
	h.side, h.severity, h.status = a.Side, a.Severity, a.Status
	h.hasLast = !a.Last.IsZero()
	if h.hasLast {
		h.last = clampNanos(a.Last)
	}
}

// addKeys adds the entities of keys and links (links are keys too) to h and reports whether
// any was new.
func (w *AlertWindow) addKeys(h *held, keys, links []string) bool {
	changed := false
	for _, k := range slices.Concat(keys, links) {
		if k == "" || len(h.keys) >= MaxAlertKeys {
			continue
		}
		i, found := slices.BinarySearch(h.keys, k)
		if found {
			continue
		}
		e := w.entities[k]
		if e == nil {
			e = &entityAlerts{key: k}
			w.entities[k] = e
		}
		e.list.insert(h)
		h.keys = slices.Insert(h.keys, i, e.key)
		changed = true
	}
	for _, k := range links {
		if i, found := slices.BinarySearch(h.links, k); !found && slices.Contains(h.keys, k) {
			h.links = slices.Insert(h.links, i, w.entities[k].key)
			changed = true
		}
	}
	return changed
}

// unlist takes h out of every time order; relist puts it back, at its time.
func (w *AlertWindow) unlist(h *held) {
	w.all.remove(h)
	for _, k := range h.keys {
		w.entities[k].list.remove(h)
	}
}

func (w *AlertWindow) relist(h *held) {
	w.all.insert(h)
	for _, k := range h.keys {
		w.entities[k].list.insert(h)
	}
}

// forget drops the alerts dated more than Memory before the newest, then the oldest past
// MaxAlerts.
func (w *AlertWindow) forget() {
	cutoff := w.newest - int64(w.Span())
	if cutoff > w.newest { // wrapped around below the oldest time
		cutoff = math.MinInt64
	}
	limit := w.MaxAlerts
	if limit <= 0 {
		limit = DefaultMaxWindowAlerts
	}
	for h := w.all.first(); h != nil && (h.at < cutoff || w.all.n > limit); h = w.all.first() {
		w.drop(h)
	}
}

func (w *AlertWindow) drop(h *held) {
	w.unlist(h)
	for _, k := range h.keys {
		if e := w.entities[k]; e.list.n == 0 {
			delete(w.entities, k)
		}
	}
	delete(w.byID, h.id)
}

// newWalk returns a mark no held alert carries.
func (w *AlertWindow) newWalk() uint32 {
	w.walks++
	if w.walks == 0 { // wrapped: clear every mark once in four billion walks
		for _, h := range w.byID {
			h.mark = 0
		}
		w.walks = 1
	}
	return w.walks
}

// get returns the alert held under id, or nil.
func (w *AlertWindow) get(id string) *held { return w.byID[id] }

// within calls fn on the alerts counted on key dated from..to (Unix ns), earliest first, until
// fn returns false.
func (w *AlertWindow) within(key string, from, to int64, fn func(*held) bool) {
	e := w.entities[key]
	if e == nil {
		return
	}
	e.list.ascend(from, func(h *held) bool { return h.at <= to && fn(h) })
}

func (w *AlertWindow) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Unix-nanosecond range.
var (
	minNanos = time.Unix(0, math.MinInt64)
	maxNanos = time.Unix(0, math.MaxInt64)
)

// alertNanos is when a happened as incidents date it (first activity, else last, else the
// Unix epoch), in Unix ns; false when out of range.
func alertNanos(a Alert) (int64, bool) {
	t := a.First
	if t.IsZero() {
		t = a.Last
	}
	if t.IsZero() {
		return 0, true
	}
	if t.Before(minNanos) || t.After(maxNanos) {
		return 0, false
	}
	return t.UnixNano(), true
}

func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(minNanos):
		return math.MinInt64
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}
