package counts

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// longID returns a 128-byte alert id, the longest the record must hold.
func longID(i int) string {
	id := fmt.Sprintf("alert-%d-", i)
	return id + strings.Repeat("x", 128-len(id))
}

// TestLedgerManyAlertsOneEntity folds 100,000 alerts with 128-byte ids on one entity, each
// counted on MaxEntityKeys+2 long keys: the record stays within MaxRecordBytes (with the largest
// updated_time) and counts every alert.
func TestLedgerManyAlertsOneEntity(t *testing.T) {
	t.Parallel()
	const n = 100_000
	key := "S-1-5-21-" + strings.Repeat("9", 100)
	var keys []string
	for i := range MaxEntityKeys + 2 {
		keys = append(keys, fmt.Sprintf("%s-%d", strings.Repeat("k", 120), i))
	}
	l := NewLedger()
	sev := [numSeverities]int64{}
	open := int64(0)
	for i := range n {
		a := &adjoinv1.Alert{Id: longID(i), Side: identity, Version: 1, Severity: adjoinv1.Severity(i % numSeverities),
			Status: adjoinv1.AlertStatus(i % 4), FirstActivity: timestamppb.New(epoch.Add(time.Duration(i) * time.Second))}
		if !l.Fold(counted(key, a, append(keys, key)...)) {
			t.Fatalf("alert %d not counted", i)
		}
		sev[i%numSeverities]++
		if i%4 != 3 {
			open++
		}
	}
	rec := l.Record(key)
	rec.UpdatedTime = &timestamppb.Timestamp{Seconds: 253402300799, Nanos: 999999999}
	if size := proto.Size(rec); size > MaxRecordBytes {
		t.Errorf("record of %d bytes, bound %d", size, MaxRecordBytes)
	}
	if len(rec.GetRecent()) == 0 || rec.GetRecent()[0].GetAlertId() != longID(n-1) {
		t.Errorf("recent alerts do not start with the newest: %d listed", len(rec.GetRecent()))
	}
	b := Summarise(rec, identity)
	if b.GetTotal() != n || b.GetOpen() != open || !b.GetFirstAlertTime().AsTime().Equal(epoch) {
		t.Errorf("identity = total %d open %d first %v, want %d %d %v", b.GetTotal(), b.GetOpen(), b.GetFirstAlertTime().AsTime(), n, open, epoch)
	}
	for _, c := range b.GetBySeverity() {
		if c.GetCount() != sev[c.GetSeverity()] {
			t.Errorf("severity %v: %d, want %d", c.GetSeverity(), c.GetCount(), sev[c.GetSeverity()])
		}
	}
	if ids := l.OtherSide(key, endpoint); len(ids) != RecentMax {
		t.Errorf("OtherSide lists %d, want %d", len(ids), RecentMax)
	}
}

// TestLedgerCompact compacts resolved alerts: counts do not move, a later version of a compacted
// alert is applied against the tombstone, an older one is ignored, and the first activity stays.
func TestLedgerCompact(t *testing.T) {
	t.Parallel()
	l := NewLedger()
	at := func(min int) *timestamppb.Timestamp {
		return timestamppb.New(epoch.Add(time.Duration(min) * time.Minute))
	}
	for i := range 200 {
		a := &adjoinv1.Alert{Id: fmt.Sprint("a", i), Side: identity, Version: 2, Severity: high, Status: resolved,
			FirstActivity: at(i), LastActivity: at(i + 10)}
		c := counted("u1", a, "u1")
		c.CorrelatedTime = at(i)
		l.Fold(c)
	}
	before := Summarise(l.Record("u1"), identity)
	if n := l.Compact(epoch.Add(time.Hour), time.Time{}).Tombstoned; n != 60 {
		t.Fatalf("Compact = %d, want 60 (alerts counted in the first hour)", n)
	}
	if n := l.Compact(epoch.Add(24*time.Hour), time.Time{}).Tombstoned; n != 200-60 {
		t.Fatalf("second Compact = %d, want %d (the recent ones too: their entries keep their state)", n, 200-60)
	}
	if got := Summarise(l.Record("u1"), identity); !proto.Equal(got, before) {
		t.Fatalf("after Compact %v, want %v", got, before)
	}
	// An older version of a compacted alert changes nothing; a newer one reopens it in place.
	if l.Fold(counted("u1", &adjoinv1.Alert{Id: "a0", Side: identity, Version: 1, Severity: medium, Status: newS}, "u1")) {
		t.Error("an older version of a compacted alert changed the record")
	}
	if !l.Fold(counted("u1", &adjoinv1.Alert{Id: "a0", Side: identity, Version: 3, Severity: medium, Status: newS,
		FirstActivity: at(0), LastActivity: at(500)}, "u1")) {
		t.Error("a newer version of a compacted alert changed nothing")
	}
	got := Summarise(l.Record("u1"), identity)
	if got.GetTotal() != 200 || got.GetOpen() != 1 || got.GetBySeverity()[0].GetCount() != 199 ||
		!got.GetFirstAlertTime().AsTime().Equal(epoch) || !got.GetLastAlertTime().AsTime().Equal(epoch.Add(500*time.Minute)) {
		t.Errorf("after reopening a0: %v", got)
	}
	l = roundTrip(t, l)
	if again := Summarise(l.Record("u1"), identity); !proto.Equal(again, got) {
		t.Errorf("after a snapshot round trip %v, want %v", again, got)
	}
}

// TestLedgerReadFromRefuses feeds ReadFrom every truncation and single-byte change of a valid
// snapshot: each is refused with ErrSnapshot and the ledger is left as it was.
func TestLedgerReadFromRefuses(t *testing.T) {
	t.Parallel()
	l := NewLedger()
	for i := range 30 {
		l.Fold(counted(fmt.Sprint("u", i%3), alert(fmt.Sprint("a", i), adjoinv1.Side(1+i%2), int64(1+i%3), high, newS), "u0", "u1"))
	}
	l.Compact(time.Now(), time.Time{})
	var buf bytes.Buffer
	if _, err := l.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	snap := buf.Bytes()
	keep := NewLedger()
	keep.Fold(counted("kept", alert("k", identity, 1, high, newS)))
	for i := range len(snap) {
		if _, err := keep.ReadFrom(bytes.NewReader(snap[:i])); !errors.Is(err, ErrSnapshot) {
			t.Fatalf("snapshot cut at %d of %d: err %v", i, len(snap), err)
		}
		bad := bytes.Clone(snap)
		bad[i] ^= 0x5a
		if _, err := keep.ReadFrom(bytes.NewReader(bad)); !errors.Is(err, ErrSnapshot) {
			t.Fatalf("byte %d changed: err %v", i, err)
		}
	}
	if _, err := keep.ReadFrom(bytes.NewReader(append(bytes.Clone(snap), 0))); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("a byte after the snapshot: err %v", err)
	}
	if keep.Record("kept") == nil {
		t.Fatal("a refused snapshot changed the ledger")
	}
}

// TestLedgerSeed converts format-1 records built by Apply from the first part of a random sequence,
// then folds the rest: every record equals the one of a ledger that folded everything. A format-2
// record seeds the counters.
func TestLedgerSeed(t *testing.T) {
	t.Parallel()
	g := &generator{rng: rand2(7), alerts: 300, entities: 10, sent: map[int]int64{}}
	all, seeded, m := NewLedger(), NewLedger(), newModel()
	clock := epoch
	var rest []*adjoinv1.CorrelatedAlert
	for step := range 4000 {
		clock = clock.Add(time.Minute)
		for _, c := range g.next(clock) {
			all.Fold(c)
			if step < 2000 {
				m.fold(step, c)
			} else {
				rest = append(rest, c)
			}
		}
	}
	for _, ec := range m.ec {
		if exact, err := seeded.Seed(proto.Clone(ec).(*adjoinv1.EntityCounts)); !exact || err != nil {
			t.Fatal("Seed of a format-1 record is not exact")
		}
	}
	for _, c := range rest {
		seeded.Fold(c)
	}
	for key := range all.entities {
		want, got := all.Record(key), seeded.Record(key)
		if !proto.Equal(&adjoinv1.EntityCounts{Sides: got.GetSides()}, &adjoinv1.EntityCounts{Sides: want.GetSides()}) {
			t.Fatalf("%s: seeded then folded\n%v\nfolded all along\n%v", key, got.GetSides(), want.GetSides())
		}
	}
	for key := range all.entities {
		rec := all.Record(key)
		two := NewLedger()
		if exact, err := two.Seed(rec); exact || err != nil {
			t.Fatal("Seed of a format-2 record says exact")
		}
		if got := two.Record(key); !proto.Equal(&adjoinv1.EntityCounts{Sides: got.GetSides()}, &adjoinv1.EntityCounts{Sides: rec.GetSides()}) {
			t.Fatalf("%s: format-2 seed\n%v\nwant\n%v", key, got.GetSides(), rec.GetSides())
		}
	}
}

// TestLedgerTimeBounds holds activity times that Unix nanoseconds cannot: clamped, never wrapped.
func TestLedgerTimeBounds(t *testing.T) {
	t.Parallel()
	l := NewLedger()
	l.Fold(counted("u", &adjoinv1.Alert{Id: "old", Side: identity, FirstActivity: timestamppb.New(time.Time{}),
		LastActivity: &timestamppb.Timestamp{Seconds: 253402300799}}))
	sc := l.Record("u").GetSides()[0]
	if sc.GetFirstActivity().AsTime().Year() != 1677 || sc.GetLastActivity().AsTime().Year() != 2262 {
		t.Errorf("first %v last %v, want clamped to 1677 and 2262", sc.GetFirstActivity().AsTime(), sc.GetLastActivity().AsTime())
	}
}

func rand2(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 2)) }

// TestLedgerSeedInconsistent seeds format-2 records whose numbers do not add up: the counters
// are made to, and the ledger's snapshot reads back.
func TestLedgerSeedInconsistent(t *testing.T) {
	t.Parallel()
	listed := &adjoinv1.CountedAlert{AlertId: "x", Side: endpoint, Severity: high, Status: newS, Version: 2}
	tests := []struct {
		name      string
		ec        *adjoinv1.EntityCounts
		wantTotal int64
		wantOpen  int64
	}{
		{"recent alert not counted", &adjoinv1.EntityCounts{Sides: []*adjoinv1.SideCounts{{Side: identity, Total: 1}}, Recent: []*adjoinv1.CountedAlert{listed}}, 1, 1},
		{"open above total", &adjoinv1.EntityCounts{Sides: []*adjoinv1.SideCounts{{Side: endpoint, Total: 1, Open: 5,
			BySeverity: []*adjoinv1.SeverityCount{{Severity: high, Count: 1}}, HighestOpenSeverity: high}}}, 1, 1},
		{"negative and unknown values", &adjoinv1.EntityCounts{Sides: []*adjoinv1.SideCounts{{Side: 9, Total: -4, Open: -1,
			BySeverity: []*adjoinv1.SeverityCount{{Severity: 77, Count: -3}, {Severity: 4, Count: 2}}}}, Recent: []*adjoinv1.CountedAlert{listed, listed}}, 1, 1},
		{"total without severities", &adjoinv1.EntityCounts{Sides: []*adjoinv1.SideCounts{{Side: endpoint, Total: 7, Open: 7}}}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.ec.EntityKey, tt.ec.Format = "u", Format
			l := NewLedger()
			if _, err := l.Seed(tt.ec); err != nil {
				t.Fatal(err)
			}
			l = roundTrip(t, l)
			if b := Summarise(l.Record("u"), endpoint); b.GetTotal() != tt.wantTotal || b.GetOpen() != tt.wantOpen {
				t.Errorf("endpoint total %d open %d, want %d %d", b.GetTotal(), b.GetOpen(), tt.wantTotal, tt.wantOpen)
			}
			l.Fold(counted("u", alert("x", endpoint, 3, high, resolved), "u"))
			roundTrip(t, l)
		})
	}
}

// TestLedgerLongID folds an alert id and entity keys at their bounds (counted, shown, read back
// from a snapshot) and one byte past them: a key or id past it is not counted, a resolution key
// past it is left off the recent list.
func TestLedgerLongID(t *testing.T) {
	t.Parallel()
	l := NewLedger()
	key, id := strings.Repeat("k", MaxKeyBytes), strings.Repeat("x", MaxIDBytes)
	if !l.Fold(counted(key, alert(id, identity, 1, high, newS), key, strings.Repeat("o", MaxKeyBytes+1))) {
		t.Fatal("an alert at the bounds was not counted")
	}
	if l.Fold(counted(key, alert(id+"x", identity, 1, high, newS), key)) || l.Fold(counted(key+"k", alert(id, identity, 1, high, newS), key)) {
		t.Error("an alert id or entity key past its bound was counted")
	}
	l = roundTrip(t, l)
	rec := l.Record(key)
	if size := proto.Size(rec) + updatedTimeBytes; size > MaxRecordBytes || Summarise(rec, identity).GetTotal() != 1 {
		t.Errorf("record of %d bytes counts %d", size, Summarise(rec, identity).GetTotal())
	}
	if got := rec.GetRecent()[0].GetEntityKeys(); len(got) != 1 || got[0] != key {
		t.Errorf("recent entity keys %d, want the entity's alone", len(got))
	}
}

// TestLedgerExtremeMovedAway folds 10,000 alerts on one entity, then 1,000 updates that each take
// the first activity away from the only alert holding it: no update rescans the side (it is left
// stale until the record is read, then recomputed from the activity index), and the record's
// first activity is exact.
func TestLedgerExtremeMovedAway(t *testing.T) {
	t.Parallel()
	const n, updates = 10_000, 1_000
	key := "S-1-5-21-1"
	l := NewLedger()
	alert := func(i int, v int64, first time.Duration) *adjoinv1.CorrelatedAlert {
		return counted(key, &adjoinv1.Alert{Id: fmt.Sprintf("alert-%d", i), Side: identity, Version: v,
			FirstActivity: timestamppb.New(epoch.Add(first))})
	}
	for i := range n {
		l.Fold(alert(i, 1, time.Duration(n+i)*time.Second))
	}
	l.Fold(alert(n, 1, 0))
	for v := range int64(updates) {
		// alert n holds the first activity alone, and each version moves it one second later.
		if !l.Fold(alert(n, v+2, time.Duration(v+1)*time.Second)) {
			t.Fatalf("update %d not applied", v)
		}
	}
	if s := l.entities[key].sides[identity]; !s.stale() {
		t.Errorf("an update rescanned the side: first %d, holders %d", s.first, s.firstHolders)
	}
	want := epoch.Add(updates * time.Second)
	if got := Summarise(l.Record(key), identity).GetFirstAlertTime().AsTime(); !got.Equal(want) {
		t.Errorf("first activity %v, want %v", got, want)
	}
	// Moved past every other alert: the minimum is now another alert's.
	l.Fold(alert(n, updates+2, time.Duration(3*n)*time.Second))
	want = epoch.Add(n * time.Second)
	if got := Summarise(l.Record(key), identity).GetFirstAlertTime().AsTime(); !got.Equal(want) {
		t.Errorf("first activity %v, want %v", got, want)
	}
	if s := l.entities[key].sides[identity]; s.stale() {
		t.Error("side still stale after Record")
	}
	if l.entities[key].index == nil {
		t.Error("an entity of 10,000 alerts recomputed its activity without the index (a scan)")
	}
}
