package counts

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// model is the brute force the ledger is checked against: every entity's format-1 record built by
// Apply from the same inputs, and for each alert the step its version last changed on the entity.
type model struct {
	ec      map[string]*adjoinv1.EntityCounts
	changed map[string]map[string]int
}

func newModel() *model {
	return &model{ec: map[string]*adjoinv1.EntityCounts{}, changed: map[string]map[string]int{}}
}

// fold applies c to the model and reports whether the alert's version on the entity changed.
func (m *model) fold(step int, c *adjoinv1.CorrelatedAlert) bool {
	key := c.GetEntityKey()
	if m.ec[key] == nil {
		m.ec[key] = &adjoinv1.EntityCounts{EntityKey: key}
		m.changed[key] = map[string]int{}
	}
	before := m.version(key, c.GetAlert().GetId())
	Apply(m.ec[key], c.GetAlert(), resolutionKeys(c)...)
	if m.version(key, c.GetAlert().GetId()) == before {
		return false
	}
	m.changed[key][c.GetAlert().GetId()] = step
	return true
}

func (m *model) counted(key, id string) *adjoinv1.CountedAlert {
	alerts := m.ec[key].GetAlerts()
	i := slices.IndexFunc(alerts, func(c *adjoinv1.CountedAlert) bool { return c.GetAlertId() == id })
	if i < 0 {
		return nil
	}
	return alerts[i]
}

func (m *model) version(key, id string) int64 { return m.counted(key, id).GetVersion() }

// generator makes alert versions whose content is a function of (alert, version), as upstream
// products do: a redelivery or an out-of-order copy of a version carries the same content. An
// alert sometimes changes side, except with monotone activity (as real alerts do: a tombstoned
// alert that changes side would leave its activity in the old side's floor).
type generator struct {
	rng      *rand.Rand
	alerts   int
	entities int
	// monotone keeps an alert's first activity fixed and moves its last activity forward with the
	// version, both always present; otherwise both move anywhere or go missing (the ledger then
	// recomputes first and last activity).
	monotone bool
	sent     map[int]int64 // alert -> highest version sent
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (g *generator) version(i int, v int64) *adjoinv1.Alert {
	r := rand.New(rand.NewPCG(uint64(i), uint64(v)))
	base := rand.New(rand.NewPCG(uint64(i), 0))
	side := adjoinv1.Side(1 + base.IntN(2))
	if !g.monotone && r.IntN(20) == 0 {
		side = adjoinv1.Side(r.IntN(3))
	}
	a := &adjoinv1.Alert{
		Id:       fmt.Sprintf("alert-%d", i),
		Side:     side,
		Version:  v,
		Severity: adjoinv1.Severity(r.IntN(5)),
		Status:   adjoinv1.AlertStatus(r.IntN(4)),
	}
	first := epoch.Add(time.Duration(base.IntN(1000)) * time.Minute)
	last := first.Add(time.Duration(v) * time.Hour)
	if !g.monotone {
		first = epoch.Add(time.Duration(r.IntN(1000)) * time.Minute)
		last = first.Add(time.Duration(r.IntN(100)) * time.Minute)
	}
	if g.monotone || r.IntN(10) > 0 {
		a.FirstActivity = timestamppb.New(first)
	}
	if g.monotone || r.IntN(10) > 0 {
		a.LastActivity = timestamppb.New(last)
	}
	return a
}

// keys returns the entities alert i is counted on: one or two, sometimes a third that a later
// resolution adds.
func (g *generator) keys(i int) []string {
	base := rand.New(rand.NewPCG(uint64(i), 1))
	keys := []string{fmt.Sprintf("user-%d", base.IntN(g.entities))}
	if base.IntN(3) == 0 {
		keys = append(keys, fmt.Sprintf("host-%d", base.IntN(g.entities)))
	}
	if g.rng.IntN(10) == 0 {
		keys = append(keys, fmt.Sprintf("host-%d", g.rng.IntN(g.entities)))
	}
	return keys
}

// next returns the copies of one alert version to fold: a new version, a redelivery or an older
// version out of order.
func (g *generator) next(clock time.Time) []*adjoinv1.CorrelatedAlert {
	i := g.rng.IntN(g.alerts)
	v := g.sent[i]
	switch n := g.rng.IntN(10); {
	case v == 0 || n < 5:
		v += 1 + int64(g.rng.IntN(2))
		g.sent[i] = v
	case n < 7:
	default:
		v = 1 + g.rng.Int64N(v)
	}
	a := g.version(i, v)
	keys := g.keys(i)
	var out []*adjoinv1.CorrelatedAlert
	for _, k := range keys {
		c := counted(k, a, keys...)
		c.CorrelatedTime = timestamppb.New(clock)
		out = append(out, c)
	}
	return out
}

// check compares the ledger's record of every entity with the model's.
func check(t *testing.T, l *Ledger, m *model) {
	t.Helper()
	if e, _ := l.Len(); e != len(m.ec) {
		t.Fatalf("ledger holds %d entities, model %d", e, len(m.ec))
	}
	for key, want := range m.ec {
		rec := l.Record(key)
		if n := proto.Size(rec) + updatedTimeBytes; n > MaxRecordBytes {
			t.Fatalf("%s: record of %d bytes", key, n)
		}
		for side := range adjoinv1.Side(numSides) {
			got, want := Summarise(rec, side), Summarise(want, side)
			if !proto.Equal(got, want) {
				t.Fatalf("%s side %v:\n got %v\nwant %v", key, side, got, want)
			}
			if got, want := highestOpen(rec, side), modelHighestOpen(m.ec[key], side); got != want {
				t.Fatalf("%s side %v: highest open %v, want %v", key, side, got, want)
			}
		}
		checkRecent(t, key, rec, m)
	}
}

func highestOpen(rec *adjoinv1.EntityCounts, side adjoinv1.Side) adjoinv1.Severity {
	for _, sc := range rec.GetSides() {
		if sc.GetSide() == side {
			return sc.GetHighestOpenSeverity()
		}
	}
	return 0
}

func modelHighestOpen(ec *adjoinv1.EntityCounts, side adjoinv1.Side) adjoinv1.Severity {
	h := adjoinv1.Severity(0)
	for _, c := range ec.GetAlerts() {
		if c.GetSide() == side && IsOpen(c.GetStatus()) {
			h = max(h, c.GetSeverity())
		}
	}
	return h
}

// checkRecent checks that the recent alerts are the entity's alerts as the model holds them,
// most recently changed first, as many as fit.
func checkRecent(t *testing.T, key string, rec *adjoinv1.EntityCounts, m *model) {
	t.Helper()
	recent := rec.GetRecent()
	if want := min(RecentMax, len(m.ec[key].GetAlerts())); len(recent) < want && proto.Size(rec)+200 < MaxRecordBytes {
		t.Fatalf("%s: %d recent alerts, want %d", key, len(recent), want)
	}
	last := -1
	for i, c := range recent {
		want := m.counted(key, c.GetAlertId())
		if want == nil {
			t.Fatalf("%s: recent alert %s is not counted there", key, c.GetAlertId())
		}
		step := m.changed[key][c.GetAlertId()]
		if i > 0 && step >= last {
			t.Fatalf("%s: recent alert %s (changed at %d) after one changed at %d", key, c.GetAlertId(), step, last)
		}
		last = step
		got := proto.Clone(c).(*adjoinv1.CountedAlert)
		for _, k := range got.GetEntityKeys() {
			if !slices.Contains(want.GetEntityKeys(), k) {
				t.Fatalf("%s: recent alert %s on %s, not in %v", key, c.GetAlertId(), k, want.GetEntityKeys())
			}
		}
		got.EntityKeys = want.GetEntityKeys()
		if !proto.Equal(got, want) {
			t.Fatalf("%s: recent alert\n got %v\nwant %v", key, got, want)
		}
	}
}

// roundTrip returns the ledger read back from its snapshot.
func roundTrip(t *testing.T, l *Ledger) *Ledger {
	t.Helper()
	var buf bytes.Buffer
	if _, err := l.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	snap := slices.Clone(buf.Bytes())
	back := NewLedger()
	if _, err := back.ReadFrom(&buf); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if _, err := back.WriteTo(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), snap) {
		t.Fatal("a snapshot read back does not write the same bytes")
	}
	return back
}

// TestLedgerExact folds random sequences of new versions, status and severity changes,
// redeliveries and out-of-order versions over many entities, and compares every record with the
// brute force after each batch; snapshots are taken and read back along the way, and with
// monotone activity, alerts are compacted along the way too.
func TestLedgerExact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name              string
		alerts, entities  int
		monotone, compact bool
	}{
		{name: "activity moving anywhere", alerts: 400, entities: 12},
		// Hundreds of alerts per entity: first and last activity come from the activity index.
		{name: "many alerts per entity", alerts: 600, entities: 2},
		{name: "compacted", alerts: 1500, entities: 4, monotone: true, compact: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(4) {
				g := &generator{rng: rand.New(rand.NewPCG(seed, 42)), alerts: tc.alerts, entities: tc.entities, monotone: tc.monotone, sent: map[int]int64{}}
				l, m := NewLedger(), newModel()
				clock := epoch
				for step := range 6000 {
					clock = clock.Add(time.Minute)
					for _, c := range g.next(clock) {
						changed := m.fold(step, c)
						if got := l.Fold(c); changed && !got {
							t.Fatalf("seed %d step %d: a newer version of %s on %s changed nothing", seed, step, c.GetAlert().GetId(), c.GetEntityKey())
						}
					}
					if step%500 == 499 {
						check(t, l, m)
						l = roundTrip(t, l)
						if tc.compact {
							l.Compact(clock.Add(-200*time.Minute), time.Time{})
							check(t, l, m)
						}
					}
				}
				if tc.compact {
					tombs := 0
					for _, e := range l.entities {
						tombs += len(e.tombs)
					}
					if _, alerts := l.Len(); tombs < alerts/10 {
						t.Fatalf("seed %d: %d of %d alerts compacted", seed, tombs, alerts)
					}
					t.Logf("seed %d: %d tombstones", seed, tombs)
				}
			}
		})
	}
}
