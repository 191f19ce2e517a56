package detect

import (
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
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

// credAccessNames remembers which address each client workstation name was last seen with
// (4625/4624 carry both), so that a failure naming only the workstation (4776 on the DC) is
// counted under the address the member servers saw for it: one NTLM spray logged by a file
// server and by the DC is one source. Entries older than Window are not used; at most Max
// names are held, the oldest forgotten first.
type credAccessNames struct {
	Window time.Duration
	m      *bounded.Map[string, credAccessNameSeen]
}

type credAccessNameSeen struct {
	ip string
	at time.Time
}

func newCredAccessNames(window time.Duration, max int) *credAccessNames {
	return &credAccessNames{Window: window, m: bounded.NewMap[string, credAccessNameSeen](max)}
}

// place learns from a source with both an address and a name, and gives a name-only source
// the address its name was last seen with.
func (n *credAccessNames) place(s credAccessSource, t time.Time) credAccessSource {
	if s.Local {
		return s
	}
	s.Host = strings.TrimLeft(strings.TrimSpace(s.Host), `\`) // 4776 may write \\NAME
	nb, _ := entity.HostNames(s.Host)
	if nb == "" || nb == "-" {
		return s
	}
	if s.IP != "" {
		n.m.Put(nb, credAccessNameSeen{ip: s.IP, at: t})
		return s
	}
	if seen, ok := n.m.Get(nb); ok && t.Sub(seen.at) <= n.Window && t.Sub(seen.at) >= -n.Window {
		s.IP = seen.ip
	}
	return s
}
