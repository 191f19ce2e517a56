package badge_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/counts"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

const (
	reasonNone         = adjoinv1.GreyedReason_GREYED_REASON_NONE
	reasonNeverSeen    = adjoinv1.GreyedReason_GREYED_REASON_NEVER_SEEN
	reasonNotOnboarded = adjoinv1.GreyedReason_GREYED_REASON_NOT_ONBOARDED
	reasonOff          = adjoinv1.GreyedReason_GREYED_REASON_INTEGRATION_OFF
)

// countsOf returns the counts record of key holding the given alerts.
func countsOf(key string, alerts ...*adjoinv1.Alert) *adjoinv1.EntityCounts {
	ec := &adjoinv1.EntityCounts{EntityKey: key}
	for _, a := range alerts {
		counts.Apply(ec, a, key)
	}
	return ec
}

func alert(id string, side adjoinv1.Side, sev adjoinv1.Severity) *adjoinv1.Alert {
	return &adjoinv1.Alert{Id: id, Side: side, Severity: sev, Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW, Version: 1}
}

// TestViewFollowsBuckets: a write to adjoin_badges, adjoin_devices or adjoin_config shows in the
// next badges shortly after, through the watchers that keep the in-memory view current.
func TestViewFollowsBuckets(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	steps := []struct {
		name  string
		write func(t *testing.T)
		sel   *adjoinv1.EntitySelector
		check func(*adjoinv1.Badge) error
	}{
		{"nothing written yet", func(*testing.T) {}, bySID(keyWS6), func(b *adjoinv1.Badge) error {
			return firstErr(sideIs(b.GetIdentity(), true, reasonNone, 0), sideIs(b.GetEndpoint(), false, reasonNeverSeen, 0))
		}},
		{"counts in adjoin_badges", func(t *testing.T) {
			h.put(t, h.badges, keyWS6, countsOf(keyWS6, alert("dc-1", adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Severity_SEVERITY_HIGH),
				alert("dc-2", adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Severity_SEVERITY_LOW)))
		}, bySID(keyWS6), func(b *adjoinv1.Badge) error {
			return firstErr(sideIs(b.GetIdentity(), true, reasonNone, 2), sideIs(b.GetEndpoint(), false, reasonNeverSeen, 0))
		}},
		{"device record in adjoin_devices", func(t *testing.T) {
			h.put(t, h.devices, keyWS6, &adjoinv1.DeviceRecord{Key: keyWS6, Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, OnboardingStatus: "onboarded"})
		}, byQuery("WORKSTATION6"), func(b *adjoinv1.Badge) error {
			return firstErr(sideIs(b.GetIdentity(), true, reasonNone, 2), sideIs(b.GetEndpoint(), true, reasonNone, 0))
		}},
		{"device record replaced: not onboarded", func(t *testing.T) {
			h.put(t, h.devices, keyWS6, &adjoinv1.DeviceRecord{Key: keyWS6, Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, OnboardingStatus: "can_be_onboarded"})
		}, bySID(keyWS6), func(b *adjoinv1.Badge) error {
			return sideIs(b.GetEndpoint(), false, reasonNotOnboarded, 0)
		}},
		{"device record deleted", func(t *testing.T) {
			if err := h.devices.Delete(context.Background(), keyWS6); err != nil {
				t.Fatal(err)
			}
		}, bySID(keyWS6), func(b *adjoinv1.Badge) error {
			return sideIs(b.GetEndpoint(), false, reasonNeverSeen, 0)
		}},
		{"user seen on a host", func(t *testing.T) {
			h.put(t, h.devices, entity.UserNameKey("THESHIRE", "pgustavo"), &adjoinv1.DeviceRecord{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, OnboardingStatus: "implicit"})
		}, bySID(keyPgustavo), func(b *adjoinv1.Badge) error {
			return sideIs(b.GetEndpoint(), true, reasonNone, 0)
		}},
		{"toggle off in adjoin_config", func(t *testing.T) {
			h.putConfig(t, app.ToggleKey(adjoinv1.Side_SIDE_IDENTITY), "off")
		}, bySID(keyWS6), func(b *adjoinv1.Badge) error {
			if b.GetIntegrationEnabled() {
				return fmt.Errorf("integration enabled")
			}
			return firstErr(sideIs(b.GetIdentity(), false, reasonOff, 2), sideIs(b.GetEndpoint(), false, reasonOff, 0))
		}},
		{"toggle key deleted means on", func(t *testing.T) {
			if err := h.config.Delete(context.Background(), app.ToggleKey(adjoinv1.Side_SIDE_IDENTITY)); err != nil {
				t.Fatal(err)
			}
		}, bySID(keyWS6), func(b *adjoinv1.Badge) error {
			if !b.GetIntegrationEnabled() {
				return fmt.Errorf("integration disabled")
			}
			return sideIs(b.GetIdentity(), true, reasonNone, 2)
		}},
		{"counts deleted", func(t *testing.T) {
			if err := h.badges.Delete(context.Background(), keyWS6); err != nil {
				t.Fatal(err)
			}
		}, bySID(keyWS6), func(b *adjoinv1.Badge) error {
			return sideIs(b.GetIdentity(), true, reasonNone, 0)
		}},
		{"entity added to the directory", func(t *testing.T) {
			h.put(t, h.directory, shireDomainSID+"-1107", shireUser(shireDomainSID+"-1107", "lrodriguez", "Rodriguez Lucas", false))
		}, &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_DomainSam{DomainSam: `theshire.local\LRodriguez`}}, func(b *adjoinv1.Badge) error {
			return sideIs(b.GetIdentity(), true, reasonNone, 0)
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.write(t)
			testkit.Eventually(t, 5*time.Second, badgeSays(h, t, st.sel, st.check))
		})
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestViewWithoutNATS: badges are served from memory, so once NATS is gone GetBadge still
// answers with the last known badge, while health says NOT_SERVING and the status page says
// NATS is unreachable.
func TestViewWithoutNATS(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	h.put(t, h.badges, keyPgustavo, countsOf(keyPgustavo, alert("dc-1", adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Severity_SEVERITY_HIGH),
		alert("ep-1", adjoinv1.Side_SIDE_ENDPOINT, adjoinv1.Severity_SEVERITY_MEDIUM)))
	var last *adjoinv1.Badge
	testkit.Eventually(t, 5*time.Second, badgeSays(h, t, bySID(keyPgustavo), func(b *adjoinv1.Badge) error {
		last = b
		return firstErr(sideIs(b.GetIdentity(), true, reasonNone, 1), sideIs(b.GetEndpoint(), true, reasonNone, 1))
	}))
	h.publish(t, "events.dc.security.4624", "ev-1", &adjoinv1.Event{Id: "ev-1", EventId: 4624, Host: "MORDORDC.theshire.local"})
	before, err := h.client.GetIntegrationStatus(rpcCtx(t), &adjoinv1.GetIntegrationStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !before.GetNatsConnected() || before.GetIdentity().GetEvents() != 1 {
		t.Fatalf("status before the shutdown: %v", before)
	}

	h.nats.Shutdown()
	h.nats.WaitForShutdown()
	start := time.Now()
	health := healthpb.NewHealthClient(h.conn)
	testkit.Eventually(t, 3*time.Second, func() error {
		resp, err := health.Check(rpcCtx(t), &healthpb.HealthCheckRequest{Service: adjoinv1.BadgeService_ServiceDesc.ServiceName})
		if err != nil {
			return err
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			return fmt.Errorf("health %s", resp.GetStatus())
		}
		return nil
	})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("health went NOT_SERVING %s after NATS stopped, want within 2s", d)
	}

	tests := []struct {
		name string
		sel  *adjoinv1.EntitySelector
		want *adjoinv1.Badge
	}{
		{"last known badge", bySID(keyPgustavo), last},
		{"another name of it", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Upn{Upn: "pgustavo@theshire.local"}}, last},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			resp, err := h.client.GetBadge(ctx, &adjoinv1.GetBadgeRequest{Selector: tt.sel})
			if err != nil {
				t.Fatalf("GetBadge without NATS: %v", err)
			}
			if !proto.Equal(resp.GetBadge(), tt.want) {
				t.Errorf("badge\n%s\nwant the last known\n%s", prototext.Format(resp.GetBadge()), prototext.Format(tt.want))
			}
		})
	}

	t.Run("status says NATS is unreachable, with the last facts", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		resp, err := h.client.GetIntegrationStatus(ctx, &adjoinv1.GetIntegrationStatusRequest{})
		if err != nil {
			t.Fatalf("GetIntegrationStatus without NATS: %v", err)
		}
		if resp.GetNatsConnected() || resp.GetIdentity().GetEvents() != 1 || resp.GetDirectory().GetEntities() != uint64(len(shire())) {
			t.Errorf("status %v, want nats_connected false and the last known facts", resp)
		}
		if resp.GetIdentity().GetLastError() == "" {
			t.Errorf("status %v: no last_error while NATS is unreachable", resp)
		}
	})
}

// TestViewAfterNATSRestart: when NATS comes back (same store), health is SERVING again and the
// watchers resume, so writes made after the restart reach the badges.
//
// The bucket watchers (ordered push consumers) would only notice that their consumer is gone
// after missing idle heartbeats, about 20s of stale badges while health says SERVING; the
// service restarts them when the connection comes back, so the change arrives within seconds.
func TestViewAfterNATSRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, err := natsx.StartEmbedded(natsx.EmbeddedOptions{StoreDir: dir, Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	port := srv.Addr().(*net.TCPAddr).Port
	stop := func() { srv.Shutdown(); srv.WaitForShutdown() }
	t.Cleanup(func() { stop() })
	nc, js := connectTest(t, srv)
	h := &harness{nats: &natstest.Server{Server: srv, NC: nc, JS: js}}
	h.directory, h.badges = h.nats.KV(t, natsx.BucketDirectory), h.nats.KV(t, natsx.BucketBadges)
	for _, e := range shire() {
		h.put(t, h.directory, e.GetKey(), e)
	}
	h.run(t, nil)
	h.put(t, h.badges, keyPgustavo, countsOf(keyPgustavo, alert("dc-1", adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Severity_SEVERITY_HIGH)))
	testkit.Eventually(t, 5*time.Second, badgeSays(h, t, bySID(keyPgustavo), func(b *adjoinv1.Badge) error {
		return sideIs(b.GetIdentity(), true, reasonNone, 1)
	}))

	stop()
	health := healthpb.NewHealthClient(h.conn)
	healthIs := func(want healthpb.HealthCheckResponse_ServingStatus) func() error {
		return func() error {
			resp, err := health.Check(rpcCtx(t), &healthpb.HealthCheckRequest{})
			if err != nil {
				return err
			}
			if resp.GetStatus() != want {
				return fmt.Errorf("health %s, want %s", resp.GetStatus(), want)
			}
			return nil
		}
	}
	testkit.Eventually(t, 3*time.Second, healthIs(healthpb.HealthCheckResponse_NOT_SERVING))

	if srv, err = natsx.StartEmbedded(natsx.EmbeddedOptions{StoreDir: dir, Port: port}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	testkit.Eventually(t, 15*time.Second, healthIs(healthpb.HealthCheckResponse_SERVING))
	t.Logf("serving again %s after the restart", time.Since(start).Round(10*time.Millisecond))

	nc, js = connectTest(t, srv)
	h.nats = &natstest.Server{Server: srv, NC: nc, JS: js}
	h.badges = h.nats.KV(t, natsx.BucketBadges)
	h.put(t, h.badges, keyPgustavo, countsOf(keyPgustavo, alert("dc-1", adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Severity_SEVERITY_HIGH),
		alert("dc-2", adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Severity_SEVERITY_LOW)))
	testkit.Eventually(t, 5*time.Second, badgeSays(h, t, bySID(keyPgustavo), func(b *adjoinv1.Badge) error {
		return sideIs(b.GetIdentity(), true, reasonNone, 2)
	}))
	t.Logf("write after the restart visible %s after the restart", time.Since(start).Round(10*time.Millisecond))
}

// connectTest connects a test client to srv and provisions the topology.
func connectTest(t *testing.T, srv interface{ ClientURL() string }) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := natsx.Provision(context.Background(), js, natsx.NewTopology(1)); err != nil {
		t.Fatal(err)
	}
	return nc, js
}
