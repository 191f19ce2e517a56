package domain_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
)

var windowT0 = utc("2020-08-05T06:10:00Z")

func held(id string, version int64, at time.Time, keys ...string) domain.Alert {
	return domain.Alert{ID: id, Version: version, Side: adjoinv1.Side_SIDE_IDENTITY, Severity: adjoinv1.Severity_SEVERITY_LOW,
		First: at, Last: at.Add(time.Minute), Keys: keys, Links: keys}
}

// TestAlertWindowAdd: a newer version replaces the one held, an equal or older one adds only
// entities, and a duplicate changes nothing.
func TestAlertWindowAdd(t *testing.T) {
	w := domain.NewAlertWindow(0)
	v2 := held("a", 2, windowT0.Add(time.Hour), keyPgustavo)
	v2.Severity, v2.Status = adjoinv1.Severity_SEVERITY_HIGH, adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED
	v1 := held("a", 1, windowT0, keyPgustavo)
	v1.Links = nil // the user was only the target of version 1
	steps := []struct {
		name        string
		add         domain.Alert
		wantChanged bool
		wantVersion int64
		wantFirst   time.Time
		wantKeys    []string
		wantLinks   []string
	}{
		{name: "new", add: v1, wantChanged: true, wantVersion: 1, wantFirst: windowT0, wantKeys: []string{keyPgustavo}},
		{name: "duplicate", add: v1, wantVersion: 1, wantFirst: windowT0, wantKeys: []string{keyPgustavo}},
		{name: "newer version", add: v2, wantChanged: true, wantVersion: 2, wantFirst: windowT0.Add(time.Hour),
			wantKeys: []string{keyPgustavo}, wantLinks: []string{keyPgustavo}},
		{name: "older version on one more entity", add: held("a", 1, windowT0, keyWS5), wantChanged: true, wantVersion: 2,
			wantFirst: windowT0.Add(time.Hour), wantKeys: []string{keyPgustavo, keyWS5}, wantLinks: []string{keyPgustavo, keyWS5}},
		{name: "newer version duplicate", add: v2, wantVersion: 2, wantFirst: windowT0.Add(time.Hour),
			wantKeys: []string{keyPgustavo, keyWS5}, wantLinks: []string{keyPgustavo, keyWS5}},
	}
	for _, s := range steps {
		if got := w.Add(s.add); got != s.wantChanged {
			t.Errorf("%s: Add = %v, want %v", s.name, got, s.wantChanged)
		}
		a, ok := w.Get("a")
		if !ok {
			t.Fatalf("%s: not held", s.name)
		}
		if a.Version != s.wantVersion || !a.First.Equal(s.wantFirst) || !slices.Equal(a.Keys, s.wantKeys) || !slices.Equal(a.Links, s.wantLinks) {
			t.Errorf("%s: held %+v", s.name, a)
		}
		if s.wantVersion == 2 && (a.Severity != adjoinv1.Severity_SEVERITY_HIGH || a.Status != adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED) {
			t.Errorf("%s: held severity %v status %v, want version 2's", s.name, a.Severity, a.Status)
		}
	}
	if w.Len() != 1 {
		t.Errorf("Len = %d, want 1", w.Len())
	}
	for _, bad := range []domain.Alert{{Keys: []string{keyPgustavo}}, {ID: "no-entity", First: windowT0}} {
		if w.Add(bad) || w.Len() != 1 {
			t.Errorf("Add(%+v) took it", bad)
		}
	}
}

// TestAlertWindowMovesAnUpdatedAlert: a newer version dated elsewhere is looked up at its new
// time.
func TestAlertWindowMovesAnUpdatedAlert(t *testing.T) {
	w := domain.NewAlertWindow(0)
	g := &domain.Grouper{Window: time.Hour, Logons: domain.NewLogons(0), Source: newFakeSource(), Alerts: w}
	w.Add(held("a", 1, windowT0, keyPgustavo))
	w.Add(held("b", 1, windowT0.Add(3*time.Hour), keyPgustavo))
	if inc := g.Group("a", []string{keyPgustavo}); len(inc.GetAlertIds()) != 1 {
		t.Fatalf("apart: incident holds %q", inc.GetAlertIds())
	}
	w.Add(held("b", 2, windowT0.Add(30*time.Minute), keyPgustavo))
	if inc := g.Group("a", []string{keyPgustavo}); !slices.Equal(inc.GetAlertIds(), []string{"a", "b"}) {
		t.Fatalf("b moved next to a: incident holds %q", inc.GetAlertIds())
	}
	w.Add(held("a", 2, windowT0.Add(-3*time.Hour), keyPgustavo))
	if inc := g.Group("b", []string{keyPgustavo}); !slices.Equal(inc.GetAlertIds(), []string{"b"}) {
		t.Fatalf("a moved away: incident holds %q", inc.GetAlertIds())
	}
}

// TestAlertWindowMemory checks the time bound at its edge: an alert dated Memory before the
// newest stays, one a nanosecond earlier goes, whether it was there first or comes late.
func TestAlertWindowMemory(t *testing.T) {
	const memory = 7 * 24 * time.Hour
	w := domain.NewAlertWindow(memory)
	newest := windowT0.Add(memory)
	w.Add(held("edge", 1, windowT0, keyPgustavo))
	w.Add(held("past", 1, windowT0.Add(-time.Nanosecond), keyPgustavo))
	w.Add(held("newest", 1, newest, keyPgustavo))
	for id, want := range map[string]bool{"edge": true, "past": false, "newest": true} {
		if _, ok := w.Get(id); ok != want {
			t.Errorf("%s held = %v, want %v", id, ok, want)
		}
	}
	if w.Add(held("late", 1, windowT0.Add(-time.Nanosecond), keyWS5)) {
		t.Error("an alert past the memory was taken")
	}
	if _, ok := w.Get("late"); ok || w.Len() != 2 {
		t.Errorf("late held = %v, Len = %d, want 2", ok, w.Len())
	}
	// A newer version moved past the memory goes too.
	w.Add(held("edge", 2, windowT0.Add(-time.Hour), keyPgustavo))
	if _, ok := w.Get("edge"); ok || w.Len() != 1 {
		t.Errorf("edge moved past the memory: held = %v, Len = %d", ok, w.Len())
	}
	// The newest advancing forgets the rest.
	w.Add(held("next", 1, newest.Add(memory).Add(time.Nanosecond), keyWS5))
	if _, ok := w.Get("newest"); ok || w.Len() != 1 {
		t.Errorf("after the newest advanced: newest held = %v, Len = %d", ok, w.Len())
	}
}

// TestAlertWindowMaxAlerts checks the count bound at its edge: MaxAlerts are held, one more
// forgets the oldest, and an alert older than all of them when full is not held.
func TestAlertWindowMaxAlerts(t *testing.T) {
	w := domain.NewAlertWindow(0)
	w.MaxAlerts = 3
	for i := range 3 {
		w.Add(held(fmt.Sprint("a", i), 1, windowT0.Add(time.Duration(i)*time.Minute), keyPgustavo))
	}
	if w.Len() != 3 {
		t.Fatalf("Len = %d, want 3", w.Len())
	}
	if !w.Add(held("a3", 1, windowT0.Add(time.Hour), keyWS5)) || w.Len() != 3 {
		t.Fatalf("fourth: Len = %d, want 3", w.Len())
	}
	if _, ok := w.Get("a0"); ok {
		t.Error("the oldest is still held past MaxAlerts")
	}
	if w.Add(held("older", 1, windowT0.Add(-time.Hour), keyWS5)) || w.Len() != 3 {
		t.Errorf("an alert older than all when full: Len = %d", w.Len())
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		if _, ok := w.Get(id); !ok {
			t.Errorf("%s forgotten", id)
		}
	}
}

// TestAlertWindowFuture: an alert dated more than a day after the clock is not taken (it would
// make every other alert past the memory); one a day after is.
func TestAlertWindowFuture(t *testing.T) {
	now := windowT0
	w := domain.NewAlertWindow(0)
	w.Now = func() time.Time { return now }
	w.Add(held("today", 1, now, keyPgustavo))
	if w.Add(held("far", 1, now.Add(24*time.Hour+time.Nanosecond), keyPgustavo)) {
		t.Error("an alert from past tomorrow was taken")
	}
	if !w.Add(held("tomorrow", 1, now.Add(24*time.Hour), keyPgustavo)) || w.Len() != 2 {
		t.Errorf("Len = %d, want today and tomorrow", w.Len())
	}
	if w.Add(held("year 9999", 1, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), keyPgustavo)) || w.Len() != 2 {
		t.Errorf("year 9999 taken: Len = %d", w.Len())
	}
}

// TestAlertWindowMaxAlertKeys: one alert is held on at most MaxAlertKeys entities.
func TestAlertWindowMaxAlertKeys(t *testing.T) {
	w := domain.NewAlertWindow(0)
	keys := make([]string, domain.MaxAlertKeys+1)
	for i := range keys {
		keys[i] = fmt.Sprintf("S-1-5-21-1-%05d", i)
	}
	w.Add(held("spray", 1, windowT0, keys[:domain.MaxAlertKeys]...))
	if w.Add(held("spray", 1, windowT0, keys[domain.MaxAlertKeys:]...)) {
		t.Error("an entity past MaxAlertKeys was added")
	}
	if a, _ := w.Get("spray"); len(a.Keys) != domain.MaxAlertKeys {
		t.Errorf("held on %d entities, want %d", len(a.Keys), domain.MaxAlertKeys)
	}
}

// TestAlertOf reads what a correlated copy tells the window.
func TestAlertOf(t *testing.T) {
	at := timestamppb.New(windowT0)
	alert := &adjoinv1.Alert{Id: "dcsync", Version: 3, Side: adjoinv1.Side_SIDE_IDENTITY, Severity: adjoinv1.Severity_SEVERITY_HIGH,
		FirstActivity: at, Entities: []*adjoinv1.EntityRef{
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_ACTOR},
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_TARGET},
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_TARGET},
		}}
	tests := []struct {
		name      string
		c         *adjoinv1.CorrelatedAlert
		wantOK    bool
		wantKeys  []string
		wantLinks []string
	}{
		{name: "actor links, target does not", wantOK: true, c: &adjoinv1.CorrelatedAlert{Alert: alert, EntityKey: keyMordorDC,
			Resolutions: []*adjoinv1.Resolution{{RefIndex: 0, EntityKey: keyPgustavo}, {RefIndex: 1, EntityKey: keyMordorDC}, {RefIndex: 2}}},
			wantKeys: []string{keyMordorDC, keyPgustavo}, wantLinks: []string{keyPgustavo}},
		{name: "no resolutions: the copy's entity links", wantOK: true, c: &adjoinv1.CorrelatedAlert{Alert: alert, EntityKey: keyWS5},
			wantKeys: []string{keyWS5}, wantLinks: []string{keyWS5}},
		{name: "unresolved", c: &adjoinv1.CorrelatedAlert{Alert: alert, Reason: "no entity reference matched the directory"}},
		{name: "no alert", c: &adjoinv1.CorrelatedAlert{EntityKey: keyWS5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := domain.AlertOf(tt.c)
			if ok != tt.wantOK {
				t.Fatalf("AlertOf ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if a.ID != "dcsync" || a.Version != 3 || !a.First.Equal(windowT0) || !a.Last.IsZero() || a.Severity != adjoinv1.Severity_SEVERITY_HIGH {
				t.Errorf("alert %+v", a)
			}
			if !slices.Equal(a.Keys, tt.wantKeys) || !slices.Equal(a.Links, tt.wantLinks) {
				t.Errorf("keys %q links %q, want %q %q", a.Keys, a.Links, tt.wantKeys, tt.wantLinks)
			}
		})
	}
}
