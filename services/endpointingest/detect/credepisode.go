package detect

import (
	"strconv"
	"sync"
	"time"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// CredEpisodes groups the traces of one credential theft that several detectors see, so they
// raise one alert rather than one each: the command line of a dumper (credential-tool-command-line,
// lsass-dump-comsvcs), its handle on lsass.exe (lsass-access), the dump file it writes, a
// script block of the same PowerShell process, and the copies of credential stores made on one
// host within minutes (credential-store-dump, lsa-secrets-dump). A detector names the keys an
// event belongs to (a host and process id, a host and a store); the first detector to claim a
// key gives the alert id, and every later claim of the same key within Window reuses it, so
// the alerts merge as versions of one.
//
// Memory is bounded by MaxKeys keys, the oldest forgotten first. Safe for concurrent use.
type CredEpisodes struct {
	// Window is how long after its last trace a key still joins new traces: a process id
	// reused after it is a new process.
	Window time.Duration
	// MaxKeys bounds the keys remembered.
	MaxKeys int

	mu sync.Mutex
	m  *bounded.Map[string, credEpisode]
}

type credEpisode struct {
	id          string
	first, last time.Time
	approx      bool // some trace of it was dated by a zone-less local clock
}

// credTime is when a trace happened, and whether that came from a zone-less local clock (a
// PowerShell export's TimeCreated, NXLog's EventTime), which may be hours off the others.
type credTime struct {
	t      time.Time
	approx bool
}

// credTimeOf is the time of ev.
func credTimeOf(ev *adjoinv1.Event) credTime {
	return credTime{ev.GetTime().AsTime(), ev.GetTimeApproximate()}
}

// near reports whether at is within window of the episode; when either was dated by a local
// clock, shifted by any whole number of hours too (the zone is unknown).
func (e credEpisode) near(at credTime, window time.Duration) bool {
	within := func(t time.Time) bool { return t.After(e.first.Add(-window)) && t.Before(e.last.Add(window)) }
	if within(at.t) {
		return true
	}
	if !at.approx && !e.approx {
		return false
	}
	for h := -14; h <= 14; h++ {
		if within(at.t.Add(time.Duration(h) * time.Hour)) {
			return true
		}
	}
	return false
}

// NewCredEpisodes returns a table with a 10 minute window and 20000 keys.
func NewCredEpisodes() *CredEpisodes { return &CredEpisodes{Window: 10 * time.Minute, MaxKeys: 20_000} }

// claim returns the alert id of the first of lookup that has an episode within Window of at,
// or id when none has; the keys of register then point to that id. A trace dated by a local
// clock joins an episode at a whole number of hours from it. A nil table returns id.
func (c *CredEpisodes) claim(lookup, register []string, at credTime, id string) string {
	if c == nil {
		return id
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = bounded.NewMap[string, credEpisode](c.MaxKeys)
	}
	for _, k := range lookup {
		if e, ok := c.m.Get(k); ok && e.near(at, c.Window) {
			id = e.id
			break
		}
	}
	t := at.t
	for _, k := range register {
		e, ok := c.m.Get(k)
		if !ok || e.id != id {
			e = credEpisode{id: id, first: t, last: t, approx: at.approx}
		}
		if at.approx != e.approx {
			// The span stays on one clock: the exact one, once a trace has it.
			if at.approx {
				c.m.Put(k, e)
				continue
			}
			e = credEpisode{id: id, first: t, last: t}
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

// known reports whether key has an episode within Window of at.
func (c *CredEpisodes) known(key string, at credTime) bool {
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

// credProcessKey names a process on a host by its id, which Sysmon (decimal), Security
// (hexadecimal) and PowerShell's envelope all carry; "" when the id does not parse or is 0.
func credProcessKey(host, pid string) string {
	n, err := strconv.ParseUint(pid, 10, 64)
	if err != nil {
		n = credLogonNumber(pid) // "0x12d8"
	}
	if n == 0 {
		return ""
	}
	nb, _ := entity.HostNames(host)
	return nb + "|pid:" + strconv.FormatUint(n, 10)
}

// credImageKey names the processes of one image (by base name) on a host.
func credImageKey(host, image string) string {
	nb, _ := entity.HostNames(host)
	return nb + "|image:" + detection.BaseName(image)
}

// credStoreKey names a class of credential store (ntds, hives) copied on a host.
func credStoreKey(host, store string) string {
	nb, _ := entity.HostNames(host)
	return nb + "|store:" + store
}

// credKeys drops empty keys.
func credKeys(keys ...string) []string {
	out := keys[:0:0]
	for _, k := range keys {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}
