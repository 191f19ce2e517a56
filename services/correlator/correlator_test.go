package correlator_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/correlator"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

const keyPgustavo = "S-1-5-21-3669966080-2286457517-972388166-1104"

func eventually(t *testing.T, within time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

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
		{"no window", func(c *correlator.Config) { c.Window = 0 }, "incident-window"},
		{"retention under the window", func(c *correlator.Config) { c.Window = 8 * 24 * time.Hour }, "logon-retention"},
		{"no workers", func(c *correlator.Config) { c.Workers = 0 }, "workers"},
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
	eventually(t, 10*time.Second, func() error {
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
	eventually(t, 10*time.Second, func() error {
		e, err := badges.Get(ctx, keyPgustavo)
		if err != nil {
			return err
		}
		var ec adjoinv1.EntityCounts
		if err := natsx.Decode(nil, e.Value(), &ec); err != nil {
			return err
		}
		if len(ec.GetAlerts()) != 1 || ec.GetAlerts()[0].GetAlertId() != "run-1" {
			return fmt.Errorf("counts %v", &ec)
		}
		return nil
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of cancel")
	}
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
