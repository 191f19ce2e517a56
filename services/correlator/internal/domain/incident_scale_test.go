package domain_test

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/entity"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
)

// oneUser holds n alerts on pgustavo, one every spacing from windowT0, and a grouper over them
// with a one-hour window and the default 500 alerts per incident.
func oneUser(n int, spacing time.Duration) (*domain.Grouper, []string) {
	w := domain.NewAlertWindow(time.Duration(n) * spacing)
	g := &domain.Grouper{Window: time.Hour, MaxAlerts: 500, Logons: domain.NewLogons(0), Source: newFakeSource(), Alerts: w}
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("alert-%06d", i)
		w.Add(held(ids[i], 1, windowT0.Add(time.Duration(i)*spacing), keyPgustavo))
	}
	return g, ids
}

// TestGroup20000AlertsOnOneEntity feeds 20,000 alerts on one user as the builder does (add,
// then group), in blocks of 100 a minute apart with two hours between blocks: every alert's
// incident is exactly its block, named after the block's first alert.
func TestGroup20000AlertsOnOneEntity(t *testing.T) {
	const n, block = 20000, 100
	w := domain.NewAlertWindow(365 * 24 * time.Hour)
	g := &domain.Grouper{Window: time.Hour, MaxAlerts: 500, Logons: domain.NewLogons(0), Source: newFakeSource(), Alerts: w}
	at := func(i int) time.Time {
		return windowT0.Add(time.Duration(i/block)*(block*time.Minute+2*time.Hour) + time.Duration(i%block)*time.Minute)
	}
	id := func(i int) string { return fmt.Sprintf("alert-%06d", i) }
	for i := range n {
		w.Add(held(id(i), 1, at(i), keyPgustavo))
		inc := g.Group(id(i), []string{keyPgustavo})
		first := i / block * block
		if inc.GetId() != entity.HashID("incident", id(first)) || len(inc.GetAlertIds()) != i-first+1 || inc.GetTruncated() {
			t.Fatalf("alert %d: incident of %d alerts from %s (truncated %v), want %d from %s",
				i, len(inc.GetAlertIds()), inc.GetAlertIds()[0], inc.GetTruncated(), i-first+1, id(first))
		}
	}
	if w.Len() != n {
		t.Errorf("window holds %d alerts, want %d", w.Len(), n)
	}
	// Each block once more, from its middle: all of it, and nothing of its neighbours.
	for first := 0; first < n; first += block {
		want := make([]string, block)
		for j := range block {
			want[j] = id(first + j)
		}
		if inc := g.Group(id(first+block/2), []string{keyPgustavo}); !slices.Equal(inc.GetAlertIds(), want) {
			t.Fatalf("block %d: incident holds %d alerts from %s", first/block, len(inc.GetAlertIds()), inc.GetAlertIds()[0])
		}
	}
}

// TestAlertWindowBytesPerAlert measures what one alert on one entity costs held, the figure
// the bound's documentation gives (about 250 B).
func TestAlertWindowBytesPerAlert(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100,000 alerts")
	}
	const n = 100_000
	alerts := make([]domain.Alert, n)
	for i := range n {
		alerts[i] = held(fmt.Sprintf("%032x", i), 1, windowT0.Add(time.Duration(i)*time.Second), fmt.Sprintf("S-1-5-21-1-2-3-%d", i%10000))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w := domain.NewAlertWindow(0)
	for _, a := range alerts {
		w.Add(a)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perAlert := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.0f B per alert held (ids of 32 bytes, entities of 10 alerts each), beside the alert's own id", perAlert)
	if perAlert > 300 || w.Len() != n {
		t.Errorf("%.0f B per alert for %d alerts held; the documentation says about 250", perAlert, w.Len())
	}
	runtime.KeepAlive(alerts)
}

// BenchmarkGroup groups one alert of an entity holding 1,000 or 20,000 alerts, as the builder
// does for each message (a new version of the alert, then its incident): the cost per alert
// stays flat as the entity's history grows. Dense: one a minute, so every incident is
// truncated at 500 alerts; sparse: one every two hours, so every alert is alone.
func BenchmarkGroup(b *testing.B) {
	for _, spacing := range []struct {
		name string
		d    time.Duration
	}{{"dense", time.Minute}, {"sparse", 2 * time.Hour}} {
		for _, n := range []int{1000, 20000} {
			b.Run(fmt.Sprintf("%s/alerts=%d", spacing.name, n), func(b *testing.B) {
				g, ids := oneUser(n, spacing.d)
				version := int64(1)
				i := 0
				for b.Loop() {
					j := (i * 7919) % n
					i++
					version++
					g.Alerts.Add(held(ids[j], version, windowT0.Add(time.Duration(j)*spacing.d), keyPgustavo))
					if inc := g.Group(ids[j], []string{keyPgustavo}); inc == nil {
						b.Fatal("no incident")
					}
				}
			})
		}
	}
}
