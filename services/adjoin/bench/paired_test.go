package bench

import (
	"math"
	"testing"
)

// A pair's ratio is the geometric mean of its two rounds, so that going first (seen to be
// worth a tenth) cancels; the figure is the median of the pairs, so one bad pair is left out.
func TestByPairs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		rounds []float64
		want   float64
	}{
		{"none", nil, 0},
		{"a round without its pair", []float64{2}, 0},
		{"the order cancels", []float64{0.9, 1 / 0.9}, 1},
		{"one pair", []float64{2, 8}, 4},
		{"median of three pairs", []float64{1, 1, 4, 4, 0.25, 0.25}, 1},
		{"median of two pairs", []float64{1, 1, 4, 4}, 2.5},
		{"the last round unpaired", []float64{2, 8, 100}, 4},
	} {
		if got := byPairs(c.rounds); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: byPairs(%v) = %v, want %v", c.name, c.rounds, got, c.want)
		}
	}
}
