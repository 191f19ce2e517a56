package detection

import (
	"sync"
	"time"

	"github.com/adjoin/adjoin/pkg/bounded"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Episodes joins the traces of one attack that several detectors see into one alert: a
// detector names the keys an event belongs to (a host and process id, a host and a store, a
// client address); the first detector to claim a key gives the alert id, and every later claim
// of the same key within Window reuses it, so the alerts merge as versions of one.
//
// Memory is bounded by MaxKeys keys, the oldest forgotten first, and an episode by MaxSpan:
// traces that keep coming less than Window apart (a management server installing services all
// day) raise a new alert each MaxSpan instead of extending one alert forever. Safe for
// concurrent use; a nil table joins nothing.
type Episodes struct {
	// Window is how long after its last trace a key still joins new traces.
	Window time.Duration
	// MaxKeys bounds the keys remembered.
	MaxKeys int
	// MaxSpan bounds the time from an episode's first trace to its last (0: no bound).
	MaxSpan time.Duration

	mu sync.Mutex
	m  *bounded.Map[string, episode]
}

// DefaultEpisodeSpan is the longest an episode of NewEpisodes lasts: an attack's traces on one
// host come within minutes; activity that goes on for hours is an alert an hour.
const DefaultEpisodeSpan = time.Hour

// NewEpisodes returns a table joining traces window apart, remembering maxKeys keys, each
// episode spanning at most DefaultEpisodeSpan.
func NewEpisodes(window time.Duration, maxKeys int) *Episodes {
	return &Episodes{Window: window, MaxKeys: maxKeys, MaxSpan: DefaultEpisodeSpan}
}

type episode struct {
	id          string
	first, last time.Time
	approx      bool // dated by a zone-less local clock
}

// Trace is when a trace happened, and whether that came from a zone-less local clock (a
// PowerShell export's TimeCreated, NXLog's EventTime), which may be hours off the others.
type Trace struct {
	Time   time.Time
	Approx bool
}

// TraceOf is the time of ev.
func TraceOf(ev *adjoinv1.Event) Trace {
	return Trace{ev.GetTime().AsTime(), ev.GetTimeApproximate()}
}

// near reports whether at is within window of the episode; when either was dated by a local
// clock, shifted by any whole number of hours too (the zone is unknown).
func (e episode) near(at Trace, window time.Duration) bool {
	within := func(t time.Time) bool { return t.After(e.first.Add(-window)) && t.Before(e.last.Add(window)) }
	if within(at.Time) {
		return true
	}
	if !at.Approx && !e.approx {
		return false
	}
	for h := -23; h <= 23; h++ { // a zone, and a 12-hour clock with AM/PM dropped
		if within(at.Time.Add(time.Duration(h) * time.Hour)) {
			return true
		}
	}
	return false
}

// fits reports whether the episode, joined by at, still spans at most maxSpan (0: no bound).
// A trace on the other clock does not move the span (see Claim), so it always fits.
func (e episode) fits(at Trace, maxSpan time.Duration) bool {
	if maxSpan <= 0 || at.Approx != e.approx {
		return true
	}
	first, last := e.first, e.last
	if at.Time.Before(first) {
		first = at.Time
	}
	if at.Time.After(last) {
		last = at.Time
	}
	return last.Sub(first) <= maxSpan
}

// Claim returns the alert id of the first of lookup that has an episode within Window of at,
// or id when none has; the keys of register then point to that id. A trace dated by a local
// clock joins an episode at a whole number of hours from it. A trace that would stretch an
// episode past MaxSpan starts a new one.
func (c *Episodes) Claim(lookup, register []string, at Trace, id string) string {
	if c == nil {
		return id
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = bounded.NewMap[string, episode](c.MaxKeys)
	}
	for _, k := range lookup {
		if e, ok := c.m.Get(k); ok && e.near(at, c.Window) && e.fits(at, c.MaxSpan) {
			id = e.id
			break
		}
	}
	t := at.Time
	for _, k := range register {
		e, ok := c.m.Get(k)
		if !ok || e.id != id {
			e = episode{id: id, first: t, last: t, approx: at.Approx}
		}
		if at.Approx != e.approx {
			// The span stays on one clock: the exact one, once a trace has it.
			if at.Approx {
				c.m.Put(k, e)
				continue
			}
			e = episode{id: id, first: t, last: t}
		}
		if t.Before(e.first) {
			e.first = t
		}
		if t.After(e.last) {
			e.last = t
		}
		c.m.Put(k, e)
	}
	return id
}

// Known reports whether key has an episode within Window of at.
func (c *Episodes) Known(key string, at Trace) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		return false
	}
	e, ok := c.m.Get(key)
	return ok && e.near(at, c.Window)
}

// Len returns how many keys the table remembers.
func (c *Episodes) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		return 0
	}
	return c.m.Len()
}
