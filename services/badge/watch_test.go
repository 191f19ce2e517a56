package badge_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// watcher reads a WatchBadges stream in the background.
type watcher struct {
	msgs chan *adjoinv1.WatchBadgesResponse
	errc chan error
}

func openWatch(t *testing.T, h *harness, sels ...*adjoinv1.EntitySelector) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := h.client.WatchBadges(ctx, &adjoinv1.WatchBadgesRequest{Selectors: sels})
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{msgs: make(chan *adjoinv1.WatchBadgesResponse, 100), errc: make(chan error, 1)}
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				w.errc <- err
				return
			}
			w.msgs <- m
		}
	}()
	return w
}

// next returns the next message, failing the test when none comes within 5s.
func (w *watcher) next(t *testing.T) *adjoinv1.WatchBadgesResponse {
	t.Helper()
	select {
	case m := <-w.msgs:
		return m
	case err := <-w.errc:
		t.Fatalf("watch ended: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no watch message within 5s")
	}
	return nil
}

// nextN returns the next n messages sorted by entity key.
func (w *watcher) nextN(t *testing.T, n int) []*adjoinv1.WatchBadgesResponse {
	t.Helper()
	out := make([]*adjoinv1.WatchBadgesResponse, n)
	for i := range out {
		out[i] = w.next(t)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].GetBadge().GetEntity().GetKey() < out[j].GetBadge().GetEntity().GetKey()
	})
	return out
}

// quiet fails the test when a message comes within d.
func (w *watcher) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-w.msgs:
		t.Fatalf("unexpected watch message %v", m)
	case err := <-w.errc:
		t.Fatalf("watch ended: %v", err)
	case <-time.After(d):
	}
}

func (w *watcher) end(t *testing.T) error {
	t.Helper()
	select {
	case m := <-w.msgs:
		t.Fatalf("watch message %v, want the stream to fail", m)
	case err := <-w.errc:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("watch still open after 5s")
	}
	return nil
}

func keysOf(msgs []*adjoinv1.WatchBadgesResponse) []string {
	var keys []string
	for _, m := range msgs {
		keys = append(keys, m.GetBadge().GetEntity().GetKey())
	}
	return keys
}

func sorted(keys ...string) []string {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return keys
}

// TestWatchSelected follows two entities through changes of every bucket, in one stream.
func TestWatchSelected(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	w := openWatch(t, h, bySID(keyPgustavo), byQuery("WORKSTATION6.theshire.local"))

	initial := w.nextN(t, 2)
	if got, want := keysOf(initial), sorted(keyPgustavo, keyWS6); !slices.Equal(got, want) {
		t.Fatalf("initial badges of %v, want %v", got, want)
	}
	for _, m := range initial {
		if !m.GetInitial() || !m.GetBadge().GetIntegrationEnabled() {
			t.Errorf("initial message %v: want initial=true and integration on", m)
		}
	}

	pgCounts := countsOf(keyPgustavo, alert("dc-1", adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Severity_SEVERITY_HIGH))
	steps := []struct {
		name  string
		write func(t *testing.T)
		// want are the entity keys of the messages that follow (any order), each checked.
		want  []string
		check func(*adjoinv1.Badge) error
	}{
		{"counts of pgustavo", func(t *testing.T) { h.put(t, h.badges, keyPgustavo, pgCounts) },
			[]string{keyPgustavo}, func(b *adjoinv1.Badge) error { return sideIs(b.GetIdentity(), true, reasonNone, 1) }},
		{"same counts again, then a change of WORKSTATION6: only WORKSTATION6", func(t *testing.T) {
			h.put(t, h.badges, keyPgustavo, pgCounts)
			w.quiet(t, 200*time.Millisecond)
			// Same bucket, so the view applies it after the write above: if the unchanged
			// write were sent, it would come first.
			h.put(t, h.badges, keyWS6, countsOf(keyWS6, alert("dc-2", adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Severity_SEVERITY_LOW)))
		}, []string{keyWS6}, func(b *adjoinv1.Badge) error { return sideIs(b.GetIdentity(), true, reasonNone, 1) }},
		{"device of WORKSTATION6 recorded under its host name", func(t *testing.T) {
			h.put(t, h.devices, entity.HostNameKey("WORKSTATION6.theshire.local"), &adjoinv1.DeviceRecord{
				Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, DnsHostName: "WORKSTATION6.theshire.local", OnboardingStatus: "onboarded"})
		}, []string{keyWS6}, func(b *adjoinv1.Badge) error { return sideIs(b.GetEndpoint(), true, reasonNone, 0) }},
		{"an entity not watched changes, then pgustavo: only pgustavo", func(t *testing.T) {
			h.put(t, h.badges, keyMordorDC, countsOf(keyMordorDC, alert("dc-3", adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Severity_SEVERITY_HIGH)))
			h.put(t, h.devices, entity.HostNameKey("WORKSTATION5.theshire.local"), &adjoinv1.DeviceRecord{OnboardingStatus: "onboarded"})
			h.put(t, h.badges, keyPgustavo, countsOf(keyPgustavo, alert("dc-1", adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Severity_SEVERITY_HIGH),
				alert("ep-1", adjoinv1.Side_SIDE_ENDPOINT, adjoinv1.Severity_SEVERITY_HIGH)))
		}, []string{keyPgustavo}, func(b *adjoinv1.Badge) error {
			return firstErr(sideIs(b.GetIdentity(), true, reasonNone, 1), sideIs(b.GetEndpoint(), true, reasonNone, 1))
		}},
		{"endpoint integration off: every watched badge again", func(t *testing.T) {
			h.putConfig(t, app.ToggleKey(adjoinv1.Side_SIDE_ENDPOINT), "off")
		}, []string{keyPgustavo, keyWS6}, func(b *adjoinv1.Badge) error {
			if b.GetIntegrationEnabled() {
				return errors.New("integration_enabled true")
			}
			return firstErr(sideIs(b.GetIdentity(), false, reasonOff, 1), sideIs(b.GetEndpoint(), false, reasonOff, b.GetEndpoint().GetTotal()))
		}},
		{"set off again: nothing changes, then on: every watched badge again", func(t *testing.T) {
			h.putConfig(t, app.ToggleKey(adjoinv1.Side_SIDE_ENDPOINT), "off")
			w.quiet(t, 200*time.Millisecond)
			h.putConfig(t, app.ToggleKey(adjoinv1.Side_SIDE_ENDPOINT), "on")
		}, []string{keyPgustavo, keyWS6}, func(b *adjoinv1.Badge) error {
			if !b.GetIntegrationEnabled() {
				return errors.New("integration_enabled false")
			}
			return firstErr(sideIs(b.GetIdentity(), true, reasonNone, 1), sideIs(b.GetEndpoint(), true, reasonNone, b.GetEndpoint().GetTotal()))
		}},
		{"directory change of a watched entity", func(t *testing.T) {
			e := shireUser(keyPgustavo, "pgustavo", "Pedro Gustavo", true)
			h.put(t, h.directory, keyPgustavo, e)
		}, []string{keyPgustavo}, func(b *adjoinv1.Badge) error {
			if b.GetEntity().GetDisplayName() != "Pedro Gustavo" {
				return errors.New("display name " + b.GetEntity().GetDisplayName())
			}
			return nil
		}},
		{"a watched user renamed, then a device under its new name: followed by the new name", func(t *testing.T) {
			h.put(t, h.directory, keyPgustavo, shireUser(keyPgustavo, "pedro.gustavo", "Pedro Gustavo", true))
			w.nextN(t, 1) // the rename itself
			h.put(t, h.devices, entity.UserNameKey("THESHIRE", "pgustavo"), &adjoinv1.DeviceRecord{OnboardingStatus: "unsupported"})
			w.quiet(t, 200*time.Millisecond) // the old name is no longer pgustavo's
			h.put(t, h.devices, entity.UserNameKey("theshire.local", "pedro.gustavo"), &adjoinv1.DeviceRecord{OnboardingStatus: "unsupported"})
		}, []string{keyPgustavo}, func(b *adjoinv1.Badge) error { return sideIs(b.GetEndpoint(), false, reasonNotOnboarded, 1) }},
		{"then onboarded under its new name", func(t *testing.T) {
			h.put(t, h.devices, entity.UserNameKey("theshire.local", "pedro.gustavo"), &adjoinv1.DeviceRecord{OnboardingStatus: "onboarded"})
		}, []string{keyPgustavo}, func(b *adjoinv1.Badge) error { return sideIs(b.GetEndpoint(), true, reasonNone, 1) }},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.write(t)
			msgs := w.nextN(t, len(st.want))
			if got, want := keysOf(msgs), sorted(st.want...); !slices.Equal(got, want) {
				t.Fatalf("messages about %v, want %v", got, want)
			}
			for _, m := range msgs {
				if m.GetInitial() {
					t.Errorf("change sent with initial=true: %v", m)
				}
				if err := st.check(m.GetBadge()); err != nil {
					t.Errorf("%s: %v", m.GetBadge().GetEntity().GetKey(), err)
				}
			}
		})
	}
	w.quiet(t, 200*time.Millisecond)

	t.Run("a new watch starts from the current state", func(t *testing.T) {
		w := openWatch(t, h, bySID(keyPgustavo))
		m := w.next(t)
		if !m.GetInitial() || m.GetBadge().GetEntity().GetDisplayName() != "Pedro Gustavo" {
			t.Errorf("first message %v, want the current badge with initial=true", m)
		}
		if err := firstErr(sideIs(m.GetBadge().GetIdentity(), true, reasonNone, 1), sideIs(m.GetBadge().GetEndpoint(), true, reasonNone, 1)); err != nil {
			t.Error(err)
		}
	})
}

// TestWatchAll: no selector watches every directory entity, including ones added later.
func TestWatchAll(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	w := openWatch(t, h)
	initial := w.nextN(t, len(shire()))
	if got, want := keysOf(initial), sorted(shireKeys()...); !slices.Equal(got, want) {
		t.Fatalf("initial badges of %v, want %v", got, want)
	}
	for _, m := range initial {
		if !m.GetInitial() {
			t.Errorf("initial message %v with initial=false", m)
		}
	}
	w.quiet(t, 200*time.Millisecond)

	steps := []struct {
		name  string
		write func(t *testing.T)
		want  string
	}{
		{"counts of a computer", func(t *testing.T) {
			h.put(t, h.badges, keyMordorDC, countsOf(keyMordorDC, alert("dc-1", adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Severity_SEVERITY_HIGH)))
		}, keyMordorDC},
		{"device under a netbios host name", func(t *testing.T) {
			h.put(t, h.devices, entity.HostNameKey("WEC"), &adjoinv1.DeviceRecord{OnboardingStatus: "onboarded"})
		}, keyWEC},
		{"device under a host's DNS name", func(t *testing.T) {
			h.put(t, h.devices, entity.HostNameKey("workstation5.THESHIRE.local"), &adjoinv1.DeviceRecord{OnboardingStatus: "onboarded"})
		}, keyWS5},
		{"device under a user's DNS domain and name", func(t *testing.T) {
			h.put(t, h.devices, entity.UserNameKey("theshire.local", "SBeavers"), &adjoinv1.DeviceRecord{OnboardingStatus: "onboarded"})
		}, keySbeavers},
		{"entity added to the directory", func(t *testing.T) {
			h.put(t, h.directory, shireDomainSID+"-1107", shireUser(shireDomainSID+"-1107", "lrodriguez", "", false))
		}, shireDomainSID + "-1107"},
		{"entity with a name a key cannot hold as is", func(t *testing.T) {
			h.put(t, h.directory, shireDomainSID+"-1108", shireUser(shireDomainSID+"-1108", "svc josé", "", false))
		}, shireDomainSID + "-1108"},
		{"device under that name: found by a walk over the directory", func(t *testing.T) {
			h.put(t, h.devices, entity.UserNameKey("THESHIRE", "svc josé"), &adjoinv1.DeviceRecord{OnboardingStatus: "onboarded"})
		}, shireDomainSID + "-1108"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.write(t)
			m := w.next(t)
			if m.GetInitial() || m.GetBadge().GetEntity().GetKey() != st.want {
				t.Errorf("message %v, want a change of %s", m, st.want)
			}
		})
	}
}

func TestWatchInvalidSelectors(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	tests := []struct {
		name    string
		sels    []*adjoinv1.EntitySelector
		wantErr codes.Code
	}{
		{"unknown entity", []*adjoinv1.EntitySelector{bySID(shireDomainSID + "-4242")}, codes.NotFound},
		{"unknown among known", []*adjoinv1.EntitySelector{bySID(keyPgustavo), byQuery("gollum")}, codes.NotFound},
		{"malformed", []*adjoinv1.EntitySelector{bySID(keyPgustavo), bySID("S-x")}, codes.InvalidArgument},
		{"empty selector", []*adjoinv1.EntitySelector{{}}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := openWatch(t, h, tt.sels...).end(t)
			if got := status.Code(err); got != tt.wantErr {
				t.Errorf("code %s (%v), want %s", got, err, tt.wantErr)
			}
		})
	}
}
