package counts

// sideCounts are one side's counters on one entity. Every alert counted there, held in full or as
// a tombstone, or only in counters seeded from a format-2 record, is in total, bySev and (while
// open) open and openBySev.
//
// first and last are the minimum and maximum activity over the alerts held in full and the floor
// (floorFirst, floorLast: the activity of alerts the ledger no longer holds in full). An update
// moves them without a scan unless the update takes the extreme away from the last alert that
// held it (firstHolders, lastHolders count the alerts held in full at the extreme); only then does
// recompute scan the entity's alerts of that side, once, when the record is next read (exact).
type sideCounts struct {
	bySev, openBySev          [numSeverities]int64
	first, last               int64
	firstHolders, lastHolders int64
	floorFirst, floorLast     int64
}

func newSideCounts() sideCounts {
	return sideCounts{first: noFirst, last: noLast, floorFirst: noFirst, floorLast: noLast}
}

// total and open sum the alerts counted, and those open.
func (s *sideCounts) total() int64 { return sum(&s.bySev) }
func (s *sideCounts) open() int64  { return sum(&s.openBySev) }

func sum(b *[numSeverities]int64) int64 {
	var n int64
	for _, v := range b {
		n += v
	}
	return n
}

// count adds one alert of severity sev to the counters.
func (s *sideCounts) count(sev uint8, open bool) {
	s.bySev[sev]++
	if open {
		s.openBySev[sev]++
	}
}

// uncount removes what count added. Counters seeded from a format-2 record do not say how the
// open alerts spread over severities, so a bucket that is already empty takes the decrement
// from the highest non-empty one: totals stay right.
func (s *sideCounts) uncount(sev uint8, open bool) {
	take(&s.bySev, sev)
	if open {
		take(&s.openBySev, sev)
	}
}

func take(b *[numSeverities]int64, sev uint8) {
	if b[sev] > 0 {
		b[sev]--
		return
	}
	for i := numSeverities - 1; i >= 0; i-- {
		if b[i] > 0 {
			b[i]--
			return
		}
	}
}

// hold takes an alert held in full into first and last.
func (s *sideCounts) hold(first, last int64) {
	if first != noFirst {
		switch {
		case first < s.first:
			s.first, s.firstHolders = first, 1
		case first == s.first:
			s.firstHolders++
		}
	}
	if last != noLast {
		switch {
		case last > s.last:
			s.last, s.lastHolders = last, 1
		case last == s.last:
			s.lastHolders++
		}
	}
}

// release takes an alert held in full out of first and last.
func (s *sideCounts) release(first, last int64) {
	if first != noFirst && first == s.first {
		s.firstHolders--
	}
	if last != noLast && last == s.last {
		s.lastHolders--
	}
}

// stale reports whether first or last lost its last holder and must be recomputed.
func (s *sideCounts) stale() bool {
	return s.first != noFirst && s.firstHolders <= 0 && s.first != s.floorFirst ||
		s.last != noLast && s.lastHolders <= 0 && s.last != s.floorLast
}

// floor moves an alert's activity from the alerts held in full into the floor (Compact).
func (s *sideCounts) floor(first, last int64) {
	if first != noFirst && first == s.first {
		s.firstHolders--
	}
	if last != noLast && last == s.last {
		s.lastHolders--
	}
	s.floorFirst = min(s.floorFirst, first)
	s.floorLast = max(s.floorLast, last)
}

func (s *sideCounts) highest(b *[numSeverities]int64) uint8 {
	for i := numSeverities - 1; i > 0; i-- {
		if b[i] > 0 {
			return uint8(i)
		}
	}
	return 0
}

// entity is the ledger's state of one entity.
type entity struct {
	alerts alertSet
	tombs  map[alertID]tombstone
	// sides are allocated on first use: most entities have alerts of one side or two.
	sides [numSides]*sideCounts
	// recent lists the most recently changed alerts, newest first, at most RecentMax of each
	// side. An alert whose side changes leaves its old side's entries, which then hold one
	// fewer until that side's next alert: the alerts that had dropped off do not come back.
	recent []recentAlert
	// index finds first and last activity without a scan once the alerts are many (nil until
	// then).
	index *activity
}

func newEntity() *entity { return &entity{} }

// side returns the counters of side i, allocating them on first use.
func (e *entity) side(i uint8) *sideCounts {
	if e.sides[i] == nil {
		s := newSideCounts()
		e.sides[i] = &s
	}
	return e.sides[i]
}

// add counts an alert the entity has not counted.
func (e *entity) add(h alertID, s alertState) {
	e.alerts.put(h, s)
	e.indexHold(s)
	side := e.side(s.side)
	side.count(s.sev, s.open())
	side.hold(s.first, s.last)
}

// replace applies a newer version of an alert held in full: the old contribution leaves the
// counters exactly, the new one enters. A side whose first or last activity lost its last holder
// is left stale (first <= the true minimum, last >= the true maximum, the holders still counted
// exactly) and recomputed once when its record is read (exact), not on every update: from the
// activity index (O(log n)) when the entity holds many alerts, else by a scan of a few.
func (e *entity) replace(h alertID, cur, next alertState) {
	old := e.side(cur.side)
	old.uncount(cur.sev, cur.open())
	old.release(cur.first, cur.last)
	e.indexRelease(cur)
	e.alerts.put(h, next)
	e.indexHold(next)
	side := e.side(next.side)
	side.count(next.sev, next.open())
	side.hold(next.first, next.last)
}

// revive applies a newer version of a tombstoned alert: the tombstone's contribution leaves the
// counters, the new version enters in full. The tombstone's activity stays in the floor.
func (e *entity) revive(h alertID, t tombstone, next alertState) {
	e.forget(h)
	e.side(t.side).uncount(t.sev, t.open())
	e.add(h, next)
}

// forget deletes a tombstone; the map goes once empty (Go maps keep their size after deletes).
func (e *entity) forget(h alertID) {
	delete(e.tombs, h)
	if len(e.tombs) == 0 {
		e.tombs = nil
	}
}

// countOnly counts an alert the ledger does not hold (its cap is reached): the counters take its
// contribution, the floor its activity, and nothing remembers its version.
func (e *entity) countOnly(s alertState) {
	side := e.side(s.side)
	side.count(s.sev, s.open())
	side.floorFirst = min(side.floorFirst, s.first)
	side.floorLast = max(side.floorLast, s.last)
	side.first = min(side.first, s.first)
	side.last = max(side.last, s.last)
}

// exact recomputes the side's first and last activity if an update left them stale.
func (e *entity) exact(side uint8) {
	if s := e.sides[side]; s != nil && s.stale() {
		e.recompute(side)
	}
}

// recompute finds the side's first and last activity over its alerts held in full and its
// floor: from the index when the alerts are many (its holders then count one, which may be
// fewer than hold it: a release of the one counted only makes the side stale again), else by
// a scan of at most smallSet alerts.
func (e *entity) recompute(side uint8) {
	s := e.side(side)
	s.first, s.last, s.firstHolders, s.lastHolders = s.floorFirst, s.floorLast, 0, 0
	if first, last, ok := e.extremes(side); ok {
		s.hold(first, last)
		return
	}
	for _, a := range e.alerts.all {
		if a.side == side {
			s.hold(a.first, a.last)
		}
	}
}
