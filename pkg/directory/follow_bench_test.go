package directory

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/entity"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// BenchmarkFollowLoad fills the directory bucket of an embedded JetStream server with 200k
// synthetic entities, then times a service's start: Follow until the initial load is applied,
// reading every entry of the bucket (full) or the bucket's snapshot (from_snapshot). The
// server runs in the same process, so cpuns/entity is the server's and the client's work
// together: on a shared machine it says more than the wall time.
func BenchmarkFollowLoad(b *testing.B) {
	const n = 200_000
	kv, store := fillBucket(b, n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := WriteSnapshot(ctx, kv, store); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		store jetstream.ObjectStore
	}{{"full", nil}, {"from_snapshot", store}} {
		b.Run(tc.name, func(b *testing.B) {
			cpu := cpuTime()
			for b.Loop() {
				wctx, stop := context.WithCancel(ctx)
				ix := NewIndex()
				ix.Snapshots = tc.store
				if err := ix.Follow(wctx, kv, zap.NewNop()); err != nil {
					b.Fatal(err)
				}
				stop()
				if ix.Len() != n {
					b.Fatalf("Len = %d, want %d", ix.Len(), n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entity")
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N*n), "cpuns/entity")
		})
	}
}

// fillBucket starts an embedded JetStream server and stores n synthetic entities in its
// directory bucket; it returns the bucket and the snapshot store.
func fillBucket(b *testing.B, n int) (jetstream.KeyValue, jetstream.ObjectStore) {
	b.Helper()
	srv := natstest.Start(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := rand.New(rand.NewPCG(4, 4))
	for i := range n {
		e := synthEntity(r, i)
		v, err := proto.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := srv.JS.PublishAsync("$KV."+natsx.BucketDirectory+"."+entity.Key(e), v); err != nil {
			b.Fatal(err)
		}
		if (i+1)%1000 == 0 || i == n-1 { // stay below the stall limit of outstanding publishes
			select {
			case <-srv.JS.PublishAsyncComplete():
			case <-ctx.Done():
				b.Fatal(ctx.Err())
			}
		}
	}
	store, err := srv.JS.ObjectStore(ctx, natsx.BucketDirectorySnapshot)
	if err != nil {
		b.Fatal(err)
	}
	return srv.KV(b, natsx.BucketDirectory), store
}
