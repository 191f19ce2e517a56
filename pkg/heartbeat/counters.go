package heartbeat

import (
	"slices"
	"strings"
	"sync"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Bounds of the counters a heartbeat carries: a heartbeat stays a small record whatever a
// service counts.
const (
	MaxCounters    = 32
	MaxCounterName = 64
)

// Counters are named counts a service instance keeps since it started (the DC traffic
// sensor's packets and drops) and its heartbeat carries, so the status page and `adjoin
// status` show them without a metrics scrape. Names past MaxCounters are not kept; a nil
// *Counters keeps nothing. It is safe for concurrent use.
type Counters struct {
	mu sync.Mutex
	m  map[string]uint64
}

// Add adds n to the counter name (cut to MaxCounterName bytes).
func (c *Counters) Add(name string, n uint64) {
	if c == nil {
		return
	}
	if len(name) > MaxCounterName {
		name = strings.ToValidUTF8(name[:MaxCounterName], "")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]uint64{}
	}
	if _, ok := c.m[name]; !ok && len(c.m) >= MaxCounters {
		return
	}
	c.m[name] += n
}

// Snapshot returns the counters sorted by name.
func (c *Counters) Snapshot() []*adjoinv1.HeartbeatCounter {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*adjoinv1.HeartbeatCounter, 0, len(c.m))
	for name, v := range c.m {
		out = append(out, &adjoinv1.HeartbeatCounter{Name: name, Value: v})
	}
	slices.SortFunc(out, func(a, b *adjoinv1.HeartbeatCounter) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out
}
