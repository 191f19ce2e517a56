package detection

import (
	"fmt"
	"testing"
	"time"
)

func TestBurst(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2021, 12, 3, 12, 6, 3, 0, time.UTC)
	b := &Burst{Window: time.Minute, Threshold: 3, MaxKeys: 10}
	var got []Episode
	for i, v := range []string{"a", "b", "a", "c", "d"} {
		got = append(got, b.Add("10.23.123.11", v, t0.Add(time.Duration(i)*time.Second)))
	}
	if got[2].Active || !got[3].Active || got[3].Start != t0.Add(3*time.Second) || got[3].Distinct != 3 {
		t.Fatalf("episodes = %+v", got)
	}
	if !got[4].Active || got[4].Start != got[3].Start || got[4].Distinct != 4 {
		t.Errorf("later event of the episode = %+v, want same start, 4 distinct", got[4])
	}
	// A gap longer than the window ends the episode.
	if e := b.Add("10.23.123.11", "e", t0.Add(3*time.Minute)); e.Active || e.Distinct != 1 {
		t.Errorf("after a gap = %+v, want a fresh key", e)
	}
	// Values spread wider than the window never reach the threshold.
	for i, v := range []string{"x", "y", "z"} {
		if e := b.Add("slow", v, t0.Add(time.Duration(i)*2*time.Minute)); e.Active {
			t.Errorf("slow value %s = %+v", v, e)
		}
	}
	for i := range 20 {
		b.Add(fmt.Sprint("k", i), "v", t0.Add(time.Duration(i)*time.Second))
	}
	if len(b.keys) > 10 {
		t.Errorf("%d keys kept, want at most 10", len(b.keys))
	}
}

// At MaxKeys a new key evicts the least recently active one, never itself: a source first seen
// while the table is full still reaches the threshold.
func TestBurstNewKeyAtMaxKeys(t *testing.T) {
	b := &Burst{Window: time.Minute, Threshold: 2, MaxKeys: 2}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	b.Add("old1", "v", t0)
	b.Add("old2", "v", t0.Add(time.Second))
	b.Add("new", "a", t0.Add(2*time.Second))
	if ep := b.Add("new", "b", t0.Add(3*time.Second)); !ep.Active {
		t.Fatalf("new key forgotten at MaxKeys: %+v", ep)
	}
	if _, ok := b.keys["old1"]; ok || len(b.keys) != 2 {
		t.Errorf("keys = %d, old1 held %v; want the oldest evicted", len(b.keys), ok)
	}
}
