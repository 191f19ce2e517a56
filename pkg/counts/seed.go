package counts

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	entitykey "github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// Seed loads a stored record into the ledger when there is no snapshot (upgrade from format 1),
// in place of what the ledger held on that entity. A format-1 record (the full alert set)
// converts exactly (returns true); a format-2 record only gives counters (false): its recent
// alerts are held in full, so their updates apply exactly, but a later version of an older
// alert counts as a new one. A record Seed cannot hold (see checkRecord) is refused with an
// error naming what is wrong, and the ledger is left unchanged.
func (l *Ledger) Seed(ec *adjoinv1.EntityCounts) (exact bool, err error) {
	if err := checkRecord(ec); err != nil {
		return false, err
	}
	key := ec.GetEntityKey()
	e := newEntity()
	if old := l.entities[key]; old != nil {
		l.held -= old.alerts.len() + len(old.tombs)
	}
	l.entities[key] = e
	defer func() { l.held += e.alerts.len() }()
	if ec.GetFormat() >= Format {
		l.seedCounters(key, e, ec)
		return false, nil
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
		if cur, ok := e.alerts.get(h); ok {
			if cur.version >= s.version {
				continue
			}
			e.replace(h, cur, s)
		} else {
			e.add(h, s)
		}
		l.seq++
		e.touch(key, l.seq, c.GetAlertId(), s, seedKeys(c), false)
	}
	return true, nil
}

// Bounds of what a ledger holds: an alert id is what stage 1 accepts (a key token), an entity
// key what package entity makes.
const (
	MaxIDBytes  = natsx.MaxToken
	MaxKeyBytes = entitykey.MaxKeyLen
)

// checkRecord names what keeps a stored record from being seeded: an entity key missing or
// longer than MaxKeyBytes; an alert id missing or longer than MaxIDBytes; a format-2 record
// listing more than RecentMax recent alerts, or one with more than MaxEntityKeys entity keys or
// a key missing or longer than MaxKeyBytes.
func checkRecord(ec *adjoinv1.EntityCounts) error {
	key := ec.GetEntityKey()
	if key == "" || len(key) > MaxKeyBytes {
		return fmt.Errorf("record: entity key of %d bytes, want 1 to %d", len(key), MaxKeyBytes)
	}
	list, what := ec.GetAlerts(), "alert"
	if ec.GetFormat() >= Format {
		list, what = ec.GetRecent(), "recent alert"
		if len(list) > RecentMax {
			return fmt.Errorf("record %s: %d recent alerts, at most %d", key, len(list), RecentMax)
		}
	}
	for i, c := range list {
		if id := c.GetAlertId(); id == "" || len(id) > MaxIDBytes {
			return fmt.Errorf("record %s: %s %d: id of %d bytes, want 1 to %d", key, what, i, len(id), MaxIDBytes)
		}
		keys := c.GetEntityKeys()
		if ec.GetFormat() >= Format && len(keys) > MaxEntityKeys {
			return fmt.Errorf("record %s: %s %s: %d entity keys, at most %d", key, what, c.GetAlertId(), len(keys), MaxEntityKeys)
		}
		for _, k := range keys {
			if k == "" || len(k) > MaxKeyBytes {
				return fmt.Errorf("record %s: %s %s: entity key of %d bytes, want 1 to %d", key, what, c.GetAlertId(), len(k), MaxKeyBytes)
			}
			if strings.Contains(k, keySep) {
				return fmt.Errorf("record %s: %s %s: entity key %q holds a NUL byte", key, what, c.GetAlertId(), k)
			}
		}
	}
	return nil
}

// maxSeeded bounds a counter read from a format-2 record.
const maxSeeded = 1 << 40

// seedCounters loads a format-2 record: the recent alerts in full (their contribution is in the
// counters), the counters as they are. The record does not say how open alerts spread over
// severities: the listed ones count at their own, the rest at the highest open severity and,
// past the alerts of that severity, the next ones down. A record
// whose numbers do not add up is made to (counters at least what the listed alerts need, totals
// the sums), so that the ledger's snapshot of it reads back.
func (l *Ledger) seedCounters(key string, e *entity, ec *adjoinv1.EntityCounts) {
	recent := ec.GetRecent()
	for i := len(recent) - 1; i >= 0; i-- {
		c := recent[i]
		h := idOf(c.GetAlertId())
		if _, ok := e.alerts.get(h); ok {
			continue
		}
		st := countedState(c, ec.GetUpdatedTime())
		e.alerts.put(h, st)
		e.side(st.side)
		l.seq++
		e.touch(key, l.seq, c.GetAlertId(), st, seedKeys(c), false)
	}
	var held [numSides]sideCounts
	for _, s := range e.alerts.all {
		held[s.side].count(s.sev, s.open())
	}
	var open [numSides]int64
	var highestOpen [numSides]uint8
	for _, sc := range ec.GetSides() {
		i := sideIndex(sc.GetSide())
		s := e.side(i)
		for _, n := range sc.GetBySeverity() {
			sev := sevIndex(n.GetSeverity())
			s.bySev[sev] = min(s.bySev[sev]+max(n.GetCount(), 0), maxSeeded)
		}
		open[i] = min(open[i]+max(sc.GetOpen(), 0), maxSeeded)
		highestOpen[i] = max(highestOpen[i], sevIndex(sc.GetHighestOpenSeverity()))
		s.floorFirst = min(s.floorFirst, nanos(sc.GetFirstActivity(), noFirst))
		s.floorLast = max(s.floorLast, nanos(sc.GetLastActivity(), noLast))
	}
	for i, s := range e.sides {
		if s == nil {
			continue
		}
		h := &held[i]
		s.openBySev = h.openBySev
		for sev := range numSeverities {
			s.bySev[sev] = max(s.bySev[sev], h.bySev[sev])
		}
		rest := max(open[i]-h.open(), 0)
		for sev := int(highestOpen[i]); sev >= 0 && rest > 0; sev-- {
			n := min(rest, s.bySev[sev]-s.openBySev[sev])
			s.openBySev[sev] += n
			rest -= n
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
