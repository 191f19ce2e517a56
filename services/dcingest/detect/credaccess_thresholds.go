package detect

import (
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
)

// CredAccessThresholds are the settings and state password-brute-force and password-spray
// share: two tiers of distinct values counted per key (an account, a source), the recent
// attempts kept for the alert and the cap on its evidence. What a key and a value are is
// told by each detector.
type CredAccessThresholds struct {
	// Threshold is how many distinct values one key must have within Window, a sliding
	// window of event time.
	Threshold int
	Window    time.Duration
	// FastThreshold values within FastWindow also start an episode; 0 turns this tier off.
	FastThreshold int
	FastWindow    time.Duration
	// KerberosFailures are the 4768/4771 Status codes counted (default 0x12, 0x18).
	KerberosFailures map[uint64]bool
	// MaxKeys bounds the keys tracked at once (default 10 000).
	MaxKeys int
	// MaxEvidence bounds the events kept as evidence per alert (default 100).
	MaxEvidence int

	tiers  *credAccessTiers
	recent *credAccessRecent
	cap    detection.EvidenceCap
}

// credAccessThresholdsOf returns the settings with their shared defaults: a fast tier of one
// minute, the usual Kerberos failure codes, 10 000 keys and 100 evidence events per alert.
func credAccessThresholdsOf(threshold int, window time.Duration, fast int) CredAccessThresholds {
	return CredAccessThresholds{
		Threshold: threshold, Window: window, FastThreshold: fast, FastWindow: time.Minute,
		KerberosFailures: credAccessFailureCodes(), MaxKeys: 10_000, MaxEvidence: 100,
	}
}

// start makes the tiers and the recent attempts on first use, keeping up to perKey times
// the larger threshold of attempts per key; it reports whether it made them.
func (c *CredAccessThresholds) start(perKey int) bool {
	if c.tiers != nil {
		return false
	}
	c.tiers = newCredAccessTiers(c.Threshold, c.Window, c.FastThreshold, c.FastWindow, c.MaxKeys)
	c.recent = &credAccessRecent{Window: c.tiers.gap, PerKey: perKey * max(c.Threshold, c.FastThreshold), MaxKeys: c.MaxKeys}
	return true
}
