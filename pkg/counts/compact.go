package counts

import (
	"math"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Compaction says what one Compact did.
type Compaction struct {
	// Tombstoned alerts were held in full and are now tombstones.
	Tombstoned int
	// Forgotten resolved alerts (tombstones, or held in full and silent for as long) are gone:
	// a later version of one counts anew.
	Forgotten int
	// Emptied entities hold no alert any more, in full or as a tombstone: only their counters
	// and recent lists remain (what their record shows).
	Emptied int
}

// Compact retires what exactness no longer needs in full; counts and records never change.
//
//   - An alert, open or resolved, not updated since before becomes a tombstone (16 bytes): its
//     contribution to the counters and its version stay, so a later version, a late close
//     included, is applied against it exactly. Its activity joins the side's floor, so first
//     and last activity stay where they were. (The floor cannot be lowered again: an update of a
//     tombstoned alert that moves its first activity later or its last activity earlier leaves
//     the old one in first/last.) A recent list keeps showing it: its entry has its own state.
//   - A resolved alert not updated since forget (its tombstone, or its full state) is forgotten,
//     unless it is on its entity's recent list (at most RecentMax per side stay as tombstones):
//     a version of that alert arriving after that long is counted as a new alert. That is the
//     only case where a count is not exact besides the cap (see Fold), and only for an alert
//     resolved and silent for that long. Open alerts are never forgotten: their close must
//     leave the open count.
func (l *Ledger) Compact(before, forget time.Time) Compaction {
	limit, forgetLimit := unixLimit(before), unixLimit(forget)
	var c Compaction
	for _, e := range l.entities {
		had := e.alerts.len() + len(e.tombs)
		t, f := e.compact(limit, forgetLimit)
		c.Tombstoned += t
		c.Forgotten += f
		l.held -= f
		if had > 0 && e.alerts.len()+len(e.tombs) == 0 {
			c.Emptied++
		}
	}
	return c
}

// unknownTouched marks a tombstone read from a codec-1 snapshot, which did not say when it last
// changed: the next Compact starts its second retention.
const unknownTouched = math.MaxUint32

func unixLimit(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	return uint32(min(max(t.Unix(), 0), math.MaxUint32-1))
}

func (e *entity) compact(limit, forget uint32) (tombstoned, forgotten int) {
	var listed map[alertID]bool // the recent list's alerts, when a forgettable one is found
	forgettable := func(h alertID, touched uint32, status uint8) bool {
		if touched >= forget || status != uint8(adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED) {
			return false
		}
		if listed == nil {
			listed = e.listedIDs()
		}
		return !listed[h]
	}
	for h, t := range e.tombs {
		if t.touched == unknownTouched {
			t.touched = limit // a codec-1 tombstone: its second retention starts now
			e.tombs[h] = t
			continue
		}
		if forgettable(h, t.touched, t.status) {
			delete(e.tombs, h)
			forgotten++
		}
	}
	var gone []alertID
	for h, s := range e.alerts.all {
		if s.touched >= limit {
			continue
		}
		e.side(s.side).floor(s.first, s.last)
		e.indexRelease(s)
		gone = append(gone, h)
		if forgettable(h, s.touched, s.status) {
			forgotten++
			continue
		}
		tombstoned++
		if e.tombs == nil {
			e.tombs = map[alertID]tombstone{}
		}
		e.tombs[h] = s.tomb()
	}
	e.alerts.remove(gone)
	if e.alerts.big == nil {
		e.index = nil
	}
	if forgotten > 0 || len(e.tombs) == 0 {
		e.tombs = shrink(e.tombs)
	}
	return tombstoned, forgotten
}

// listedIDs returns the hashed ids of the alerts on the recent list.
func (e *entity) listedIDs() map[alertID]bool {
	in := make(map[alertID]bool, len(e.recent))
	for i := range e.recent {
		in[idOf(e.recent[i].id)] = true
	}
	return in
}

// shrink returns tombs in a map of its size (nil when empty): Go maps keep their size after
// deletes.
func shrink(tombs map[alertID]tombstone) map[alertID]tombstone {
	if len(tombs) == 0 {
		return nil
	}
	out := make(map[alertID]tombstone, len(tombs))
	for h, t := range tombs {
		out[h] = t
	}
	return out
}
