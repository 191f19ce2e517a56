package domain

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTimeList inserts and removes alerts at random across many chunk splits and merges, and
// checks the order, the count and range lookups against a sorted copy after every step.
func TestTimeList(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var l timeList
	var want []*held
	check := func(step int) {
		t.Helper()
		var got []*held
		l.ascend(-1<<63, func(h *held) bool { got = append(got, h); return true })
		if !slices.Equal(got, want) || l.n != len(want) {
			t.Fatalf("step %d: list holds %d (n=%d), want %d in order", step, len(got), l.n, len(want))
		}
		if f := l.first(); (f == nil) != (len(want) == 0) || (f != nil && f != want[0]) {
			t.Fatalf("step %d: first = %v", step, f)
		}
		from := rng.Int64N(1000)
		var ranged []*held
		l.ascend(from, func(h *held) bool { ranged = append(ranged, h); return len(ranged) < 10 })
		i, _ := slices.BinarySearchFunc(want, from, func(h *held, at int64) int { return cmpInt(h.at, at) })
		if wantRange := want[i:min(i+10, len(want))]; !slices.Equal(ranged, wantRange) {
			t.Fatalf("step %d: from %d got %d alerts, want %d", step, from, len(ranged), len(wantRange))
		}
	}
	byOrder := func(a, b *held) int {
		if earlier(a, b) {
			return -1
		}
		if earlier(b, a) {
			return 1
		}
		return 0
	}
	for step := range 6000 {
		if len(want) > 0 && rng.IntN(3) == 0 {
			x := want[rng.IntN(len(want))]
			l.remove(x)
			want = slices.DeleteFunc(want, func(h *held) bool { return h == x })
		} else {
			x := &held{id: fmt.Sprintf("a%05d", step), at: rng.Int64N(1000)}
			l.insert(x)
			i, _ := slices.BinarySearchFunc(want, x, byOrder)
			want = slices.Insert(want, i, x)
		}
		if step%97 == 0 || step > 5900 {
			check(step)
		}
	}
	if len(l.chunks) < 4 {
		t.Errorf("%d chunks: the test never split one", len(l.chunks))
	}
	// Removing an alert not held, or held at another time, changes nothing.
	l.remove(&held{id: "none", at: 5})
	check(-1)
	for len(want) > 0 {
		l.remove(want[0])
		want = want[1:]
	}
	check(-2)
	if len(l.chunks) != 0 {
		t.Errorf("%d chunks left in an empty list", len(l.chunks))
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
