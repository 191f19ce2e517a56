package counts

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

const retention = 180 * 24 * time.Hour

// version is a CorrelatedAlert counting alert id on key, correlated at at.
func version(key, id string, v int64, status adjoinv1.AlertStatus, at time.Time) *adjoinv1.CorrelatedAlert {
	ts := timestamppb.New(at)
	c := counted(key, &adjoinv1.Alert{Id: id, Side: identity, Version: v, Severity: high, Status: status,
		FirstActivity: ts, LastActivity: ts}, key)
	c.CorrelatedTime = ts
	return c
}

// compactAt compacts l as the owner does at now.
func compactAt(l *Ledger, now time.Time) Compaction {
	return l.Compact(now.Add(-retention), now.Add(-2*retention))
}

// TestLedgerBoundOneEntity folds 100,000 alerts on one entity over a simulated year, each opened
// then resolved a day later, and the last 1,000 left open: every count is exact, the record stays
// within MaxRecordBytes, and once compacted the ledger holds the alerts changed within retention
// in full and the rest as tombstones; a year later, only the open ones. (Not parallel: it measures
// the heap.)
func TestLedgerBoundOneEntity(t *testing.T) {
	const n, open = 100_000, 1_000
	l := NewLedger()
	clock := epoch
	step := 365 * 24 * time.Hour / n
	for i := range n {
		clock = clock.Add(step)
		id := fmt.Sprintf("alert-%d", i)
		l.Fold(version("u", id, 1, newS, clock))
		if i < n-open {
			l.Fold(version("u", id, 2, resolved, clock.Add(24*time.Hour)))
		}
		if i%10_000 == 0 {
			compactAt(l, clock)
		}
	}
	check := func(when string) {
		t.Helper()
		rec := l.Record("u")
		b := Summarise(rec, identity)
		if b.GetTotal() != n || b.GetOpen() != open {
			t.Errorf("%s: total %d open %d, want %d %d", when, b.GetTotal(), b.GetOpen(), n, open)
		}
		if size := proto.Size(rec) + updatedTimeBytes; size > MaxRecordBytes {
			t.Errorf("%s: record of %d bytes", when, size)
		}
	}
	check("folded")
	c := compactAt(l, clock.Add(24*time.Hour))
	e := l.entities["u"]
	// Changed within retention (the last half year, resolutions a day later): in full.
	if full := e.alerts.len(); full < n/2-1_000 || full > n/2+1_000 {
		t.Errorf("%d alerts in full after compaction, want about %d (the last %v)", full, n/2, retention)
	}
	t.Logf("compaction: %+v, %d in full, %d tombstones", c, e.alerts.len(), len(e.tombs))
	check("compacted")
	l = roundTrip(t, l)
	check("read back")
	before := heapOf(roundTrip(t, l))

	// A year later: resolved tombstones forgotten, the open ones stay (their close must count).
	later := clock.Add(2*retention + 48*time.Hour)
	c = compactAt(l, later)
	if c.Forgotten == 0 {
		t.Errorf("a year later: compaction %+v forgot nothing", c)
	}
	e = l.entities["u"]
	if _, held := l.Len(); held != open || e.alerts.len() != 0 || len(e.tombs) != open {
		t.Errorf("a year later: %d held (%d in full, %d tombstones), want the %d open ones as tombstones", held, e.alerts.len(), len(e.tombs), open)
	}
	check("forgotten")
	after := heapOf(roundTrip(t, l))
	if after > before/10 {
		t.Errorf("heap %0.f B after forgetting, %0.f B before: not returned to the live set", after, before)
	}
	t.Logf("heap %.0f B with %d alerts held, %.0f B with %d", before, n, after, open)
	// A late close of an open alert is exact.
	if !l.Fold(version("u", fmt.Sprintf("alert-%d", n-1), 2, resolved, later)) {
		t.Fatal("a late close changed nothing")
	}
	if b := Summarise(l.Record("u"), identity); b.GetTotal() != n || b.GetOpen() != open-1 {
		t.Errorf("after a late close: total %d open %d, want %d %d", b.GetTotal(), b.GetOpen(), n, open-1)
	}
}

// TestLedgerCapped folds past MaxHeld: the alerts past the cap are counted and listed, Unheld says
// how many, a snapshot reads back, and (the documented loss) a later version of one counts again.
func TestLedgerCapped(t *testing.T) {
	t.Parallel()
	const limit = 100
	l := NewLedger()
	l.MaxHeld = limit
	for i := range 2 * limit {
		l.Fold(version("u", fmt.Sprint("a", i), 1, newS, epoch))
	}
	if _, held := l.Len(); held != limit || l.Unheld() != limit {
		t.Fatalf("held %d unheld %d, want %d %d", held, l.Unheld(), limit, limit)
	}
	if b := Summarise(l.Record("u"), identity); b.GetTotal() != 2*limit || b.GetOpen() != 2*limit {
		t.Errorf("total %d open %d, want %d", b.GetTotal(), b.GetOpen(), 2*limit)
	}
	// A held alert and an unheld one on the recent list close exactly; an unheld one off the
	// list is counted again (and stays open).
	l.Fold(version("u", "a0", 2, resolved, epoch))
	l.Fold(version("u", fmt.Sprint("a", 2*limit-1), 2, resolved, epoch))
	l.Fold(version("u", fmt.Sprint("a", limit), 2, resolved, epoch))
	if b := Summarise(l.Record("u"), identity); b.GetTotal() != 2*limit+1 || b.GetOpen() != 2*limit-2 {
		t.Errorf("after three closes: total %d open %d, want %d %d", b.GetTotal(), b.GetOpen(), 2*limit+1, 2*limit-2)
	}
	back := roundTrip(t, l)
	if back.MaxHeld = limit; back.Unheld() != 0 {
		t.Error("Unheld survives a snapshot")
	}
	// The closed a0 stays while on the recent list; once pushed off it (by alerts counted past
	// the cap), compaction forgets it, and the room is used again.
	if compactAt(back, epoch.Add(3*retention)).Forgotten != 0 {
		t.Error("compaction forgot an alert on the recent list")
	}
	for i := range RecentMax {
		back.Fold(version("u", fmt.Sprint("push", i), 1, newS, epoch))
	}
	if c := compactAt(back, epoch.Add(3*retention)); c.Forgotten != 1 {
		t.Errorf("compaction %+v, want a0 forgotten", c)
	}
	if _, held := back.Len(); held != limit-1 {
		t.Errorf("after compaction %d held, want %d (the open tombstones)", held, limit-1)
	}
	back.Fold(version("u", "new", 1, newS, epoch.Add(3*retention)))
	if _, held := back.Len(); held != limit || back.Unheld() != RecentMax {
		t.Errorf("held %d unheld %d after compaction made room", held, back.Unheld())
	}
}

// TestLedgerTwoYears folds 1,000,000 alert ids over 5,000 entities during two simulated years,
// most resolved within days and one in a hundred never, compacting daily as the owner does: the
// counts stay exact, and what the ledger holds is exactly the live set (changed within
// retention in full; older ones as tombstones while open or changed within two retentions).
func TestLedgerTwoYears(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000,000 alerts")
	}
	const n, entities, days = 1_000_000, 5_000, 730
	type fact struct {
		touched time.Time
		open    bool
	}
	facts := make([]fact, n)
	l := NewLedger()
	perDay := n / days
	now := epoch
	for i := range n {
		if i%perDay == 0 && i > 0 {
			now = now.Add(24 * time.Hour)
			if i%(7*perDay) == 0 {
				compactAt(l, now) // the owner compacts at each snapshot; weekly is enough here
			}
		}
		key := fmt.Sprintf("S-1-5-21-1-%d", i%entities)
		id := fmt.Sprintf("mde-%07d", i)
		l.Fold(version(key, id, 1, newS, now))
		facts[i] = fact{now, true}
		if i%100 != 0 {
			closed := now.Add(time.Duration(i%7) * 24 * time.Hour)
			l.Fold(version(key, id, 2, resolved, closed))
			facts[i] = fact{closed, false}
		}
	}
	compactAt(l, now)
	var full, tombs, open int
	for _, f := range facts {
		switch {
		case !f.touched.Before(now.Add(-retention)):
			full++
		case f.open || !f.touched.Before(now.Add(-2*retention)):
			tombs++
		}
		if f.open {
			open++
		}
	}
	var gotFull, gotTombs int
	var total, gotOpen int64
	for key := range l.entities {
		e := l.entities[key]
		gotFull += e.alerts.len()
		gotTombs += len(e.tombs)
		b := Summarise(l.Record(key), identity)
		total += b.GetTotal()
		gotOpen += b.GetOpen()
	}
	if gotFull != full || gotTombs != tombs {
		t.Errorf("held %d in full and %d tombstones, want the live set: %d and %d", gotFull, gotTombs, full, tombs)
	}
	if total != n || gotOpen != int64(open) {
		t.Errorf("total %d open %d, want %d %d", total, gotOpen, n, open)
	}
	if _, held := l.Len(); held != gotFull+gotTombs {
		t.Errorf("Len says %d held, the entities hold %d", held, gotFull+gotTombs)
	}
	t.Logf("after two years: %d in full, %d tombstones, of %d alerts", full, tombs, n)
}
