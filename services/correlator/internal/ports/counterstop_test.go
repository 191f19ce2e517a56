package ports_test

import (
	"testing"
	"time"
)

// TestCounterStopReleasesPartitions stops an owner cleanly and starts another: the new one
// must count new messages well before the pinned TTL runs out, since the owner that stopped
// released its partitions (without it the new one waited the whole PinnedTTL: 9.5 s of 10).
func TestCounterStopReleasesPartitions(t *testing.T) {
	const ttl = 10 * time.Second
	r := newCountRig(t, 2)
	r.publish(t, true, r.history("user", 10, 2)...)
	a := r.counter(r.s.JS, nil)
	a.PinnedTTL = ttl
	stopA := r.run(t, a)
	eventually(t, 30*time.Second, r.drained)
	stopA()
	b := r.counter(r.s.JS, nil)
	b.PinnedTTL = ttl
	r.run(t, b)
	start := time.Now()
	r.publish(t, true, r.history("late", 4, 2)...)
	eventually(t, 30*time.Second, r.drained)
	if took := time.Since(start); took > ttl/2 {
		t.Fatalf("the next owner counted new messages after %s, want well within the pinned TTL (%s)", took, ttl)
	}
	if err := r.exact(); err != nil {
		t.Fatal(err)
	}
}
