package detect

import (
	"time"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
)

// credAccessTiers is the pair of thresholds the spray and brute-force detectors count with: a
// slow one (many within a long window, the patient attacker) and a fast one (fewer within a
// short window, the tool that tries everything in a second). Either one starts an attack
// episode; the episode is named by the time the first tier fired and lasts while the key's
// events come less than the slow window apart, so both tiers feed one alert.
type credAccessTiers struct {
	slow, fast *detection.Burst
	gap        time.Duration
	episodes   *bounded.Map[string, credAccessTierEpisode]
}

type credAccessTierEpisode struct{ start, last time.Time }

// newCredAccessTiers builds the tiers; a fast tier with a zero threshold or window is off.
func newCredAccessTiers(threshold int, window time.Duration, fastThreshold int, fastWindow time.Duration, maxKeys int) *credAccessTiers {
	c := &credAccessTiers{
		slow:     &detection.Burst{Window: window, Threshold: threshold, MaxKeys: maxKeys},
		gap:      window,
		episodes: bounded.NewMap[string, credAccessTierEpisode](maxKeys),
	}
	if fastThreshold > 0 && fastWindow > 0 {
		c.fast = &detection.Burst{Window: fastWindow, Threshold: fastThreshold, MaxKeys: maxKeys}
		c.gap = max(window, fastWindow)
	}
	return c
}

// add counts value for key at t. fastKey is the key the fast tier counts under (the same
// key, or a narrower one). It returns the key's episode, and the window of the tier that
// makes it active (for descriptions).
func (c *credAccessTiers) add(key, fastKey, value string, t time.Time) (detection.Episode, time.Duration) {
	slow := c.slow.Add(key, value, t)
	window := c.slow.Window
	var fast detection.Episode
	if c.fast != nil {
		fast = c.fast.Add(fastKey, value, t)
		if fast.Active && !slow.Active {
			window = c.fast.Window
		}
	}
	distinct := max(slow.Distinct, fast.Distinct)
	ep, ok := c.episodes.Get(key)
	if ok && t.Sub(ep.last) > c.gap {
		ok = false
	}
	if !ok {
		if !slow.Active && !fast.Active {
			return detection.Episode{Distinct: distinct}, window
		}
		ep = credAccessTierEpisode{start: t}
	}
	if t.After(ep.last) {
		ep.last = t
	}
	c.episodes.Put(key, ep)
	return detection.Episode{Active: true, Start: ep.start, Distinct: distinct}, window
}
