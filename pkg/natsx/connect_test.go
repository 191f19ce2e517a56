package natsx_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// closedPortURL returns a loopback URL nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "nats://" + addr
}

func TestConnectGivesUpWhenContextEnds(t *testing.T) {
	t.Parallel()
	url := closedPortURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	nc, err := natsx.Connect(ctx, natsx.ConnectOptions{URL: url, Name: "test"}, zap.NewNop())
	if err == nil {
		nc.Close()
		t.Fatal("Connect to a closed port succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want it to wrap context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "last error") {
		t.Errorf("error %q should name the URL and the last connect error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Connect took %s after its context ended", d)
	}
}

func TestConnect(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	tests := []struct {
		name    string
		o       natsx.ConnectOptions
		wantErr bool
	}{
		{name: "running server", o: natsx.ConnectOptions{URL: srv.ClientURL(), Name: "adjoin-test"}},
		{name: "first of several URLs down", o: natsx.ConnectOptions{URL: closedPortURL(t) + "," + srv.ClientURL()}},
		{name: "empty URL", o: natsx.ConnectOptions{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			nc, err := natsx.Connect(ctx, tt.o, zap.NewNop())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Connect = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			defer nc.Close()
			if !nc.IsConnected() {
				t.Errorf("status %s, want connected", nc.Status())
			}
		})
	}
}

func TestStartEmbedded(t *testing.T) {
	t.Parallel()
	if _, err := natsx.StartEmbedded(natsx.EmbeddedOptions{Port: -1}); err == nil || !strings.Contains(err.Error(), "StoreDir") {
		t.Fatalf("StartEmbedded without StoreDir = %v, want an error naming StoreDir", err)
	}

	// A store survives a restart of the server.
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := func() (func(), string) {
		s, err := natsx.StartEmbedded(natsx.EmbeddedOptions{StoreDir: dir, Port: -1, SyncAlways: true})
		if err != nil {
			t.Fatal(err)
		}
		return func() { s.Shutdown(); s.WaitForShutdown() }, s.ClientURL()
	}
	stop, url := start()
	nc, js, err := natsx.Setup(ctx, natsx.ConnectOptions{URL: url}, 1, zap.NewNop())
	if err != nil {
		stop()
		t.Fatalf("Setup: %v", err)
	}
	kv, err := js.KeyValue(ctx, natsx.BucketStatus)
	if err == nil {
		_, err = kv.Put(ctx, "dcingest", []byte("up"))
	}
	nc.Close()
	stop()
	if err != nil {
		t.Fatal(err)
	}

	stop, url = start()
	defer stop()
	nc, js, err = natsx.Setup(ctx, natsx.ConnectOptions{URL: url}, 1, zap.NewNop())
	if err != nil {
		t.Fatalf("Setup after restart: %v", err)
	}
	defer nc.Close()
	kv, err = js.KeyValue(ctx, natsx.BucketStatus)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "dcingest")
	if err != nil || string(e.Value()) != "up" {
		t.Fatalf("value after restart = %v, %v; want up", e, err)
	}
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		s       natsx.Settings
		wantErr string
	}{
		{name: "single server", s: natsx.Settings{ConnectOptions: natsx.ConnectOptions{URL: "nats://127.0.0.1:4222"}, Replicas: 1}},
		{name: "cluster", s: natsx.Settings{ConnectOptions: natsx.ConnectOptions{URL: "nats://a,nats://b"}, Replicas: 3}},
		{name: "no URL", s: natsx.Settings{Replicas: 1}, wantErr: "nats-url"},
		{name: "two replicas", s: natsx.Settings{ConnectOptions: natsx.ConnectOptions{URL: "nats://x"}, Replicas: 2}, wantErr: "replicas"},
		{name: "password file without user", s: natsx.Settings{ConnectOptions: natsx.ConnectOptions{URL: "nats://x", PasswordFile: "pw"}, Replicas: 1},
			wantErr: "nats-password-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.s.Validate()
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate = %v, want error mentioning %q", err, tt.wantErr)
			}
		})
	}
}
