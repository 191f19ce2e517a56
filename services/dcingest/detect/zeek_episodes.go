package detect

import (
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// ZeekEpisodes are the settings and state the Zeek detectors share: records of one key less
// than Window apart make one alert, a record another sensor saw too is answered with the
// alert of its first copy, and an alert keeps at most MaxEvidence records. What a key is, and
// how many records start an alert, each detector tells.
type ZeekEpisodes struct {
	// Window joins records into one alert; 0 takes the detector's default.
	Window time.Duration
	// MaxKeys bounds the keys (and the records remembered as first copies) tracked at once
	// (default 10 000).
	MaxKeys int
	// MaxEvidence bounds the records kept as evidence per alert; <= 0: no bound.
	MaxEvidence int
	// CopyTolerance is how far apart two sensors' copies of one record may be (default 2 s).
	CopyTolerance time.Duration

	burst  *detection.Burst
	copies *zeekCopies
	evCap  detection.EvidenceCap
}

// zeekEpisodesOf returns the settings with window and maxEvidence, and the shared defaults.
func zeekEpisodesOf(window time.Duration, maxEvidence int) ZeekEpisodes {
	return ZeekEpisodes{Window: window, MaxKeys: zeekDefaultMaxKeys, MaxEvidence: maxEvidence, CopyTolerance: zeekDefaultCopyTolerance}
}

// start makes the episode and copy tables on first use: an episode starts at threshold
// distinct values, and Window defaults to window. It reports whether it made them.
func (z *ZeekEpisodes) start(window time.Duration, threshold int) bool {
	if z.burst != nil {
		return false
	}
	z.burst = &detection.Burst{Window: zeekOr(z.Window, window), Threshold: threshold, MaxKeys: zeekOr(z.MaxKeys, zeekDefaultMaxKeys)}
	z.copies = &zeekCopies{tolerance: zeekOr(z.CopyTolerance, zeekDefaultCopyTolerance), max: zeekOr(z.MaxKeys, zeekDefaultMaxKeys)}
	return true
}

// finish fills the fields every Zeek alert shares, with the record's time, attaches the
// record's evidence while the alert's evidence cap allows, and remembers the record as the
// first copy of subject's record, with a.
func (z *ZeekEpisodes) finish(a *adjoinv1.Alert, r zeekRecord, subject string, evidence func() *adjoinv1.Evidence) *adjoinv1.Alert {
	identityAlert(a, r.t)
	z.evCap.MaxIDs = z.copies.max
	if z.evCap.TakeOne(a.GetId(), z.MaxEvidence) {
		a.Evidence = []*adjoinv1.Evidence{evidence()}
	}
	z.copies.remember(r, subject, a)
	return a
}
