package natsx_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/natsx"
)

func TestResumeStartsAgainAfterReconnect(t *testing.T) {
	dir := t.TempDir()
	srv, err := natsx.StartEmbedded(natsx.EmbeddedOptions{StoreDir: dir, Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	url := srv.ClientURL()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var starts atomic.Int32
	stop, err := natsx.Resume(context.Background(), nc, func(ctx context.Context) error {
		starts.Add(1)
		return nil
	}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if starts.Load() != 1 {
		t.Fatalf("started %d times, want 1", starts.Load())
	}
	tcpPort := srv.Addr().(*net.TCPAddr).Port
	srv.Shutdown()
	srv.WaitForShutdown()
	waitFor(t, func() bool { return !nc.IsConnected() })
	time.Sleep(300 * time.Millisecond) // let Resume see the loss
	srv, err = natsx.StartEmbedded(natsx.EmbeddedOptions{StoreDir: dir, Port: tcpPort})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	waitFor(t, func() bool { return starts.Load() == 2 })
}

func waitFor(t *testing.T, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
