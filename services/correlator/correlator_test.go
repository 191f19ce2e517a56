package correlator_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/counts"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/services/correlator"
	"github.com/adjoin/adjoin/services/correlator/internal/ports"
)

const keyPgustavo = "S-1-5-21-3669966080-2286457517-972388166-1104"

func TestConfigValidate(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	good := correlator.DefaultConfig()
	tests := []struct {
		name    string
		edit    func(*correlator.Config)
		wantErr string // the setting named; "" for valid
	}{
		{"valid", func(*correlator.Config) {}, ""},
		{"listener instead of address", func(c *correlator.Config) { c.HTTPAddr, c.Listener = "", ln }, ""},
		{"no nats url", func(c *correlator.Config) { c.NATS.URL = "" }, "nats-url"},
		{"two replicas", func(c *correlator.Config) { c.NATS.Replicas = 2 }, "replicas"},
		{"no address", func(c *correlator.Config) { c.HTTPAddr = "" }, "http-addr"},
		{"no durable", func(c *correlator.Config) { c.Durable = "" }, "durable"},
		{"ack wait too short", func(c *correlator.Config) { c.AckWait = 500 * time.Millisecond }, "ack-wait"},
		{"largest batch", func(c *correlator.Config) { c.Batch = ports.MaxBatch }, ""},
		{"batch past the bound", func(c *correlator.Config) { c.Batch = ports.MaxBatch + 1 }, "batch"},
		{"most partitions", func(c *correlator.Config) { c.Partitions = correlator.MaxPartitions }, ""},
		{"partitions past the bound", func(c *correlator.Config) { c.Partitions = correlator.MaxPartitions + 1 }, "partitions"},
		{"negative partitions", func(c *correlator.Config) { c.Partitions = -1 }, "partitions"},
		{"negative state retention", func(c *correlator.Config) { c.StateRetention = -time.Hour }, "state-retention"},
		{"shortest takeover", func(c *correlator.Config) { c.TakeoverAfter = 2 * time.Second }, ""},
		{"takeover too quick", func(c *correlator.Config) { c.TakeoverAfter = 1999 * time.Millisecond }, "takeover-after"},
		{"negative takeover", func(c *correlator.Config) { c.TakeoverAfter = -time.Second }, "takeover-after"},
		{"no takeover", func(c *correlator.Config) { c.TakeoverAfter = 0 }, "takeover-after"},
		{"incident memory equal to the window", func(c *correlator.Config) { c.Window, c.IncidentMemory = 48*time.Hour, 48*time.Hour }, ""},
		{"incident memory shorter than the window", func(c *correlator.Config) { c.Window, c.IncidentMemory = 48*time.Hour, 47*time.Hour }, "incident-memory"},
		{"negative incident memory", func(c *correlator.Config) { c.IncidentMemory = -time.Hour }, "incident-memory"},
		{"negative incident memory alerts", func(c *correlator.Config) { c.IncidentMemoryAlerts = -1 }, "incident-memory-alerts"},
		{"no window", func(c *correlator.Config) { c.Window = 0 }, "incident-window"},
		{"retention under the window", func(c *correlator.Config) { c.Window = 8 * 24 * time.Hour }, "logon-retention"},
		{"no batch", func(c *correlator.Config) { c.Batch = 0 }, "batch"},
		{"no deliveries", func(c *correlator.Config) { c.MaxDeliveries = 0 }, "max-deliveries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Errorf("Validate = %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}

// TestRun starts the whole service on a test server: it must become ready, load the directory,
// count an alert, and stop when ctx ends.
func TestRun(t *testing.T) {
	s := natstest.Start(t)
	ctx := context.Background()
	dir := s.KV(t, natsx.BucketDirectory)
	user := &adjoinv1.Entity{
		Key: keyPgustavo, Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: keyPgustavo, SamAccountName: "pgustavo",
		NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", Upn: "pgustavo@theshire.local",
	}
	data, err := proto.Marshal(user)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Put(ctx, keyPgustavo, data); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := correlator.DefaultConfig()
	cfg.NATS.URL, cfg.Listener, cfg.AckWait = s.ClientURL(), ln, 5*time.Second
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- correlator.Run(runCtx, cfg, zap.NewNop()) }()

	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 2 * time.Second}
	testkit.Eventually(t, 10*time.Second, func() error {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s %s", resp.Status, body)
		}
		return nil
	})

	a := &adjoinv1.Alert{
		Id: "run-1", Side: adjoinv1.Side_SIDE_IDENTITY, Version: 1, Severity: adjoinv1.Severity_SEVERITY_HIGH,
		Entities: []*adjoinv1.EntityRef{{Upn: "pgustavo@THESHIRE.LOCAL"}},
	}
	if _, err := natsx.Publish(ctx, s.JS, "alerts.identity.dcsync", "run-1.v1", a); err != nil {
		t.Fatal(err)
	}
	badges := s.KV(t, natsx.BucketBadges)
	testkit.Eventually(t, 10*time.Second, func() error {
		e, err := badges.Get(ctx, keyPgustavo)
		if err != nil {
			return err
		}
		var ec adjoinv1.EntityCounts
		if err := natsx.Decode(nil, e.Value(), &ec); err != nil {
			return err
		}
		if ec.GetFormat() != counts.Format || len(ec.GetRecent()) != 1 || ec.GetRecent()[0].GetAlertId() != "run-1" ||
			counts.Summarise(&ec, adjoinv1.Side_SIDE_IDENTITY).GetTotal() != 1 {
			return fmt.Errorf("counts %v", &ec)
		}
		return nil
	})
	// The correlated copy is the partition owner's, with no incident id (INCIDENTS says).
	out, err := s.JS.Stream(ctx, natsx.StreamCorrelated)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		m, err := out.GetLastMsgForSubject(ctx, natsx.CorrelatedSubject(false, keyPgustavo))
		if err != nil {
			return err
		}
		var ca adjoinv1.CorrelatedAlert
		if err := natsx.Decode(m.Header, m.Data, &ca); err != nil {
			return err
		}
		if ca.GetAlert().GetId() != "run-1" || ca.GetIncidentId() != "" || ca.GetEntityKey() != keyPgustavo {
			return fmt.Errorf("correlated copy %v", &ca)
		}
		return nil
	})

	waitPinned(t, s)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of cancel")
	}
	checkStoppedCleanly(t, s)
	if _, err := client.Get(base + "/healthz"); err == nil {
		t.Error("HTTP still served after Run returned")
	}
}

// TestRunNATSUnreachable checks that Run gives up with an error when ctx ends before NATS answers.
func TestRunNATSUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	// A port nobody listens on: take one and close it.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + dead.Addr().String()
	dead.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	cfg := correlator.DefaultConfig()
	cfg.NATS.URL, cfg.Listener, cfg.AckWait = url, ln, 5*time.Second
	start := time.Now()
	if err := correlator.Run(ctx, cfg, zap.NewNop()); err == nil {
		t.Fatal("Run succeeded without NATS")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s to give up after its context ended", d)
	}
}

// TestRunRefusesOtherPartitions: the first start records the number of partitions in
// adjoin_config; a correlator started with another number refuses to start and names both.
func TestRunRefusesOtherPartitions(t *testing.T) {
	s := natstest.Start(t)
	ctx := context.Background()
	run := func(partitions int, within time.Duration) error {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		rctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		cfg := correlator.DefaultConfig()
		cfg.NATS.URL, cfg.Listener, cfg.AckWait, cfg.Partitions = s.ClientURL(), ln, 5*time.Second, partitions
		return correlator.Run(rctx, cfg, zap.NewNop())
	}
	// The first start (the default number) records it and runs until its context ends.
	if err := run(natsx.DefaultPartitions, 2*time.Second); err != nil {
		t.Fatalf("first start: %v", err)
	}
	e, err := s.KV(t, natsx.BucketConfig).Get(ctx, "counts.partitions")
	if err != nil || string(e.Value()) != strconv.Itoa(natsx.DefaultPartitions) {
		t.Fatalf("adjoin_config counts.partitions = %v (%v), want %d", e, err, natsx.DefaultPartitions)
	}
	if err := run(natsx.DefaultPartitions, time.Second); err != nil {
		t.Errorf("start with the recorded number: %v", err)
	}
	err = run(3, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "--partitions 3") ||
		!strings.Contains(err.Error(), fmt.Sprintf("records %d", natsx.DefaultPartitions)) || !strings.Contains(err.Error(), "migration") {
		t.Errorf("start with --partitions 3 = %v, want a refusal naming 3, %d and the migration", err, natsx.DefaultPartitions)
	}
}
