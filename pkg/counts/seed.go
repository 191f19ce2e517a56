package counts

import (
	"cmp"
	"slices"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Seed loads a stored record into the ledger when there is no snapshot (upgrade from format 1),
// in place of what the ledger held on that entity. A format-1 record (the full alert set)
// converts exactly (returns true); a format-2 record only gives counters (false): its recent
// alerts are held in full, so their updates apply exactly, but a later version of an older
// alert counts as a new one.
func (l *Ledger) Seed(ec *adjoinv1.EntityCounts) (exact bool) {
	key := ec.GetEntityKey()
	if key == "" {
		return false
	}
	e := newEntity()
	l.entities[key] = e
	if ec.GetFormat() >= Format {
		l.seedCounters(e, ec)
		return false
	}
	// Recent lists: newest activity first, the order format 1 gave other_side_alert_ids.
	alerts := slices.Clone(ec.GetAlerts())
	slices.SortStableFunc(alerts, func(a, b *adjoinv1.CountedAlert) int {
		if c := cmp.Compare(nanos(b.GetLastActivity(), noLast), nanos(a.GetLastActivity(), noLast)); c != 0 {
			return c
		}
		return cmp.Compare(a.GetAlertId(), b.GetAlertId())
	})
	touched := ec.GetUpdatedTime()
	for i := len(alerts) - 1; i >= 0; i-- {
		c := alerts[i]
		h, s := idOf(c.GetAlertId()), countedState(c, touched)
		from := -1
		if cur, ok := e.alerts.get(h); ok {
			if cur.version >= s.version {
				continue
			}
			from = int(cur.side)
			e.replace(h, cur, s)
		} else {
			e.add(h, s)
		}
		l.seq++
		e.touch(l.seq, c.GetAlertId(), h, from, s.side, seedKeys(c))
	}
	return true
}

// seedCounters loads a format-2 record: counters as they are, the recent alerts in full (their
// contribution is already in the counters).
func (l *Ledger) seedCounters(e *entity, ec *adjoinv1.EntityCounts) {
	for _, sc := range ec.GetSides() {
		s := e.side(sideIndex(sc.GetSide()))
		s.total += max(sc.GetTotal(), 0)
		s.open += min(max(sc.GetOpen(), 0), max(sc.GetTotal(), 0))
		for _, n := range sc.GetBySeverity() {
			s.bySev[sevIndex(n.GetSeverity())] += max(n.GetCount(), 0)
		}
		s.floorFirst = min(s.floorFirst, nanos(sc.GetFirstActivity(), noFirst))
		s.floorLast = max(s.floorLast, nanos(sc.GetLastActivity(), noLast))
		s.first, s.last = s.floorFirst, s.floorLast
	}
	recent := ec.GetRecent()
	for i := len(recent) - 1; i >= 0; i-- {
		c := recent[i]
		h := idOf(c.GetAlertId())
		if _, ok := e.alerts.get(h); ok {
			continue
		}
		st := countedState(c, ec.GetUpdatedTime())
		e.alerts.put(h, st)
		if st.open() {
			e.side(st.side).openBySev[st.sev]++
		}
		l.seq++
		e.touch(l.seq, c.GetAlertId(), h, -1, st.side, seedKeys(c))
	}
	// The open alerts the record does not list count at the highest open severity it names.
	for i, s := range e.sides {
		if s == nil {
			continue
		}
		listed := int64(0)
		for _, n := range s.openBySev {
			listed += n
		}
		if rest := s.open - listed; rest > 0 {
			sev := uint8(0)
			for _, sc := range ec.GetSides() {
				if sideIndex(sc.GetSide()) == uint8(i) {
					sev = sevIndex(sc.GetHighestOpenSeverity())
				}
			}
			s.openBySev[sev] += rest
		}
		e.recompute(uint8(i))
	}
}

// countedState packs a counted alert of a stored record; touched is when the record was written
// (the alert's last activity when the record does not say).
func countedState(c *adjoinv1.CountedAlert, touched *timestamppb.Timestamp) alertState {
	if touched == nil {
		touched = c.GetLastActivity()
	}
	a := &adjoinv1.Alert{Version: c.GetVersion(), Side: c.GetSide(), Severity: c.GetSeverity(), Status: c.GetStatus(),
		FirstActivity: c.GetFirstActivity(), LastActivity: c.GetLastActivity()}
	return stateOf(a, touched)
}

// seedKeys returns the entity keys of a stored counted alert, distinct, at most MaxEntityKeys.
func seedKeys(c *adjoinv1.CountedAlert) []string {
	keys := union(nil, c.GetEntityKeys())
	return keys[:min(len(keys), MaxEntityKeys)]
}
