package bench

import (
	"io"
	"testing"
)

// The bulk alerts of a size fall on the asked number of distinct users, none of them reserved
// for the followed alerts, drawn from the whole directory; -1 keeps the spread over every user.
func TestSizeStepActiveUsers(t *testing.T) {
	for _, c := range []struct {
		name                 string
		fresh, users, active int
		want                 int
	}{
		{"large directory", 10_000, 1_000_000, 5_000, 5_000},
		{"fewer to spare", 0, 10_000, 8_000, 10_000 - 4_000},
		{"every user", 0, 10_000, -1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := newSizeStep(nil, nil, "test", c.fresh, c.users, 20_000, c.active, 1, 2, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.active) != c.want {
				t.Fatalf("%d active users, want %d", len(s.active), c.want)
			}
			seen := map[int]bool{}
			low, high := c.users, 0
			for _, u := range s.active {
				if seen[u] || u < 0 || u >= c.users || (u >= c.fresh && u < s.reservedEnd) {
					t.Fatalf("active user %d: repeated, outside the directory or reserved (%d..%d)", u, c.fresh, s.reservedEnd)
				}
				seen[u] = true
				low, high = min(low, u), max(high, u)
			}
			first := 0 // the lowest user that is no sample
			if c.fresh == 0 {
				first = s.reservedEnd
			}
			if c.want > 0 && (low > first+c.users/100 || high < c.users-c.users/100) {
				t.Fatalf("active users span %d..%d of %d: not drawn from the whole directory", low, high, c.users)
			}
			for range 1000 {
				if u := s.bulkUser(); c.want > 0 && !seen[u] || u >= c.fresh && u < s.reservedEnd {
					t.Fatalf("bulk user %d is not an active one", u)
				}
			}
		})
	}
}
