package directory

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/adjoin/adjoin/pkg/entity"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit"
)

// TestFollowLoadsInBatches loads a bucket of several loader batches and a partial one, with
// delete markers and an undecodable value among them, then follows changes one by one: every
// entry is applied in order, reported once, and the bad one is logged and skipped.
func TestFollowLoadsInBatches(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	kv := srv.KV(t, natsx.BucketDirectory)
	ctx := context.Background()
	const n = 3*loadBatchSize + 17
	r := rand.New(rand.NewPCG(7, 7))
	var keys []string
	for i := range n {
		e := synthEntity(r, i)
		putEntity(t, kv, e)
		keys = append(keys, entity.Key(e))
	}
	deleted := map[string]bool{}
	for i := 5; i < n; i += 100 {
		if err := kv.Delete(ctx, keys[i]); err != nil {
			t.Fatal(err)
		}
		deleted[keys[i]] = true
	}
	const badKey = "S-1-5-21-1-2-3-999999"
	if _, err := kv.Put(ctx, badKey, []byte{0x0a, 0x10, 'x'}); err != nil {
		t.Fatal(err)
	}

	core, logs := observer.New(zapcore.InfoLevel)
	wctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	ix := NewIndex()
	var mu sync.Mutex
	changed := map[string]int{}
	ix.OnChange = func(key string) {
		mu.Lock()
		defer mu.Unlock()
		changed[key]++
	}
	if err := ix.Follow(wctx, kv, zap.New(core)); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	if got, want := ix.Len(), n-len(deleted); got != want {
		t.Errorf("Len after load = %d, want %d", got, want)
	}
	for _, key := range keys {
		if _, ok := ix.Get(key); ok == deleted[key] {
			t.Errorf("Get(%s) = %v after load, deleted %v", key, ok, deleted[key])
		}
	}
	mu.Lock()
	for _, key := range keys {
		if changed[key] != 1 {
			t.Errorf("%s reported %d times by the load, want once", key, changed[key])
		}
	}
	if changed[badKey] != 0 {
		t.Errorf("undecodable %s reported as changed", badKey)
	}
	mu.Unlock()
	if got := logs.FilterMessage("skipping undecodable directory entry").FilterField(zap.String("entity", badKey)).Len(); got != 1 {
		t.Errorf("undecodable entry logged %d times, want once", got)
	}

	// After the load, entries are applied as they come.
	if err := kv.Delete(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	late := synthEntity(r, n)
	putEntity(t, kv, late)
	testkit.Eventually(t, 5*time.Second, func() error {
		if _, ok := ix.Get(entity.Key(late)); !ok {
			return fmt.Errorf("%s not indexed after the load", entity.Key(late))
		}
		if _, ok := ix.Get(keys[0]); ok {
			return fmt.Errorf("%s still indexed after its delete", keys[0])
		}
		return nil
	})
}
