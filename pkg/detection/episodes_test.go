package detection

import (
	"fmt"
	"testing"
	"time"
)

// TestEpisodesEndAfterMaxSpan claims one key every 4 minutes for two hours (a window of 5):
// with a span of an hour the traces make a new alert each hour, without a bound one alert.
func TestEpisodesEndAfterMaxSpan(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	claims := func(maxSpan time.Duration) map[string]int {
		ep := &Episodes{Window: 5 * time.Minute, MaxKeys: 10, MaxSpan: maxSpan}
		ids := map[string]int{}
		for i := 0; i <= 30; i++ {
			at := Trace{Time: t0.Add(time.Duration(4*i) * time.Minute)}
			ids[ep.Claim([]string{"client:10.0.0.5"}, []string{"client:10.0.0.5"}, at, fmt.Sprintf("a%d", i))]++
		}
		return ids
	}
	// 0, 4, ..., 60 minutes: 16 traces in the first hour; 64 to 120: 15 more in the next.
	got := claims(time.Hour)
	if len(got) != 2 || got["a0"] != 16 || got["a16"] != 15 {
		t.Errorf("alerts with an hour's span = %v, want a0 ×16 and a16 ×15", got)
	}
	if got := claims(0); len(got) != 1 || got["a0"] != 31 {
		t.Errorf("alerts without a bound = %v, want a0 ×31", got)
	}
	if NewEpisodes(time.Minute, 1).MaxSpan != DefaultEpisodeSpan {
		t.Errorf("NewEpisodes leaves MaxSpan unbounded")
	}
}

// TestEpisodesSpanStaysOnOneClock: traces on a zone-less local clock, hours off, join an
// exact episode without stretching it, so they never end it early.
func TestEpisodesSpanStaysOnOneClock(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	ep := NewEpisodes(10*time.Minute, 10)
	key := []string{"host|store:ntds"}
	id := ep.Claim(key, key, Trace{Time: t0}, "exact")
	if got := ep.Claim(key, key, Trace{Time: t0.Add(7*time.Hour + 2*time.Minute), Approx: true}, "local"); got != id {
		t.Errorf("a local-clock trace 7 h off = %q, want it joined to %q", got, id)
	}
	if got := ep.Claim(key, key, Trace{Time: t0.Add(5 * time.Minute)}, "later"); got != id {
		t.Errorf("an exact trace 5 min later = %q, want %q (the local one must not have stretched the span)", got, id)
	}
}
