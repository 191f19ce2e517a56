package counts

import (
	"math"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Compact turns alerts resolved and not updated since before into small tombstones; counts never
// change. An alert on a recent list stays in full (the record shows it). A tombstone keeps the
// alert's contribution to the counters and its version, so a later version is applied against it
// exactly; its activity joins the side's floor, so first and last activity stay where they were.
// (The floor cannot be lowered again: an update of a tombstoned alert that moves its first activity
// later or its last activity earlier leaves the old one in first/last.) Returns how many alerts
// it compacted.
func (l *Ledger) Compact(before time.Time) int {
	limit := uint32(min(max(before.Unix(), 0), math.MaxUint32))
	n := 0
	for _, e := range l.entities {
		n += e.compact(limit)
	}
	return n
}

func (e *entity) compact(limit uint32) int {
	var keep map[alertID]bool
	var gone []alertID
	for h, s := range e.alerts.all {
		if s.status != uint8(adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED) || s.touched >= limit {
			continue
		}
		if keep == nil {
			keep = e.inRecent()
		}
		if keep[h] {
			continue
		}
		if e.tombs == nil {
			e.tombs = map[alertID]tombstone{}
		}
		e.tombs[h] = s.tomb()
		e.side(s.side).floor(s.first, s.last)
		gone = append(gone, h)
	}
	e.alerts.remove(gone)
	return len(gone)
}
