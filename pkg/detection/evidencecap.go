package detection

import "github.com/adjoin/adjoin/pkg/bounded"

// EvidenceCapIDs is the number of alert ids an EvidenceCap remembers when MaxIDs is not set.
const EvidenceCapIDs = 4096

// EvidenceCap bounds the evidence a long attack attaches to one alert: past the bound the
// alert still widens its activity window but carries no more evidence. It remembers how much
// evidence went to at most MaxIDs alert ids (default EvidenceCapIDs), forgetting the oldest.
// The zero value is ready to use; it is not safe for concurrent use.
type EvidenceCap struct {
	// MaxIDs bounds the alert ids remembered; set it before the first Take.
	MaxIDs int
	seen   *bounded.Map[string, int]
}

// Take reports how many of n more evidence may go to alert id, which carries at most limit in
// all (limit <= 0: no bound).
func (c *EvidenceCap) Take(id string, n, limit int) int {
	if limit <= 0 {
		return n
	}
	if c.seen == nil {
		ids := c.MaxIDs
		if ids <= 0 {
			ids = EvidenceCapIDs
		}
		c.seen = bounded.NewMap[string, int](ids)
	}
	used, _ := c.seen.Get(id)
	n = max(0, min(n, limit-used))
	c.seen.Put(id, used+n)
	return n
}

// TakeOne reports whether one more evidence may go to alert id (see Take).
func (c *EvidenceCap) TakeOne(id string, limit int) bool { return c.Take(id, 1, limit) == 1 }
