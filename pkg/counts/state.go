package counts

import (
	"crypto/sha256"
	"math"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// numSides and numSeverities size the counter arrays: sides and severities outside the enums
// count as unspecified (0).
const (
	numSides      = int(adjoinv1.Side_SIDE_ENDPOINT) + 1
	numSeverities = int(adjoinv1.Severity_SEVERITY_HIGH) + 1
)

// Times are held as Unix nanoseconds. An absent first activity is noFirst and an absent last
// activity noLast, so that min and max skip them without a test; times outside what Unix
// nanoseconds hold (before 1678, after 2262) are clamped inside.
const (
	noFirst = math.MaxInt64
	noLast  = math.MinInt64
)

// alertID is the alert id hashed: 16 bytes of SHA-256, so that no one can make two ids collide.
type alertID [16]byte

func idOf(id string) alertID {
	sum := sha256.Sum256([]byte(id))
	return alertID(sum[:16])
}

// alertState is what the ledger holds of one alert counted on one entity: 32 bytes.
type alertState struct {
	version int64
	first   int64 // Unix nanoseconds, noFirst when absent
	last    int64 // Unix nanoseconds, noLast when absent
	touched uint32
	side    uint8
	sev     uint8
	status  uint8
}

// tombstone is what remains of an alert Compact retired: its contribution to the counters, the
// version a later one must exceed, and when it last changed (Compact forgets a resolved one
// after a second retention). 16 bytes.
type tombstone struct {
	version int64
	touched uint32
	side    uint8
	sev     uint8
	status  uint8
}

func (s alertState) tomb() tombstone {
	return tombstone{version: s.version, touched: s.touched, side: s.side, sev: s.sev, status: s.status}
}

func (t tombstone) open() bool  { return IsOpen(adjoinv1.AlertStatus(t.status)) }
func (s alertState) open() bool { return IsOpen(adjoinv1.AlertStatus(s.status)) }

// stateOf packs the version of a counted alert. touched is when the version was counted.
func stateOf(a *adjoinv1.Alert, touched *timestamppb.Timestamp) alertState {
	return alertState{
		version: max(a.GetVersion(), 1),
		first:   nanos(a.GetFirstActivity(), noFirst),
		last:    nanos(a.GetLastActivity(), noLast),
		touched: seconds(touched),
		side:    sideIndex(a.GetSide()),
		sev:     sevIndex(a.GetSeverity()),
		status:  statusIndex(a.GetStatus()),
	}
}

func sideIndex(s adjoinv1.Side) uint8 {
	if s < 0 || int(s) >= numSides {
		return 0
	}
	return uint8(s)
}

func sevIndex(s adjoinv1.Severity) uint8 {
	if s < 0 || int(s) >= numSeverities {
		return 0
	}
	return uint8(s)
}

func statusIndex(s adjoinv1.AlertStatus) uint8 {
	if s < 0 || s > adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED {
		return 0
	}
	return uint8(s)
}

// Bounds of the times Unix nanoseconds hold, kept one off the absent markers.
var (
	minNanos = time.Unix(0, math.MinInt64+1)
	maxNanos = time.Unix(0, math.MaxInt64-1)
)

// nanos returns t in Unix nanoseconds, or none when t is absent.
func nanos(t *timestamppb.Timestamp, none int64) int64 {
	if t == nil {
		return none
	}
	at := t.AsTime()
	switch {
	case at.Before(minNanos):
		return math.MinInt64 + 1
	case at.After(maxNanos):
		return math.MaxInt64 - 1
	}
	return at.UnixNano()
}

// stamp is the inverse of nanos.
func stamp(n int64) *timestamppb.Timestamp {
	if n == noFirst || n == noLast {
		return nil
	}
	return timestamppb.New(time.Unix(0, n))
}

// seconds returns t in Unix seconds held in 32 bits (until 2106), 0 when absent.
func seconds(t *timestamppb.Timestamp) uint32 {
	if t == nil {
		return 0
	}
	return uint32(min(max(t.GetSeconds(), 0), math.MaxUint32))
}
