package correlator_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/services/correlator"
)

// TestCorrelatorKeepsDirectorySnapshot runs the correlator on a directory of 10,000 users (the
// smallest that gets a snapshot) with a short --directory-snapshot-every: it writes the
// snapshot, and a reader started afterwards loads the directory from it. Config.Loaded was
// called once before (the keeper starts after the load).
func TestCorrelatorKeepsDirectorySnapshot(t *testing.T) {
	url, js := startJetStream(t, false)
	keys := putUsersAsync(t, js, 10_000)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := correlator.DefaultConfig()
	cfg.NATS.URL, cfg.Listener, cfg.DirectorySnapshotEvery = url, ln, 200*time.Millisecond
	var loaded atomic.Int32
	cfg.Loaded = func() { loaded.Add(1) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- correlator.Run(ctx, cfg, zap.NewNop()) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("correlator.Run: %v", err)
		}
	}()

	store, err := js.ObjectStore(ctx, natsx.BucketDirectorySnapshot)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 60*time.Second, func() error {
		if _, err := store.GetInfo(ctx, "directory"); err != nil {
			return errors.New("no directory snapshot yet: " + err.Error())
		}
		return nil
	})
	if n := loaded.Load(); n != 1 {
		t.Errorf("Config.Loaded called %d times before the snapshot was written, want 1", n)
	}
	kv, err := js.KeyValue(ctx, natsx.BucketDirectory)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	ix := directory.NewIndex()
	ix.Snapshots = store
	if err := ix.Follow(ctx, kv, zap.New(core)); err != nil {
		t.Fatal(err)
	}
	if logs.FilterMessage("directory snapshot loaded").Len() != 1 {
		t.Fatalf("the reader did not load the snapshot: %v", logs.All())
	}
	if _, ok := ix.Get(keys[len(keys)-1]); !ok || ix.Len() != len(keys) {
		t.Fatalf("%d entities from the snapshot, want %d", ix.Len(), len(keys))
	}
}
