package bench

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/testkit"
)

// A history reset empties the alert side of the topology, provisions it again, and keeps the
// directory, its snapshot store and the toggles.
func TestResetHistoryKeepsTheDirectory(t *testing.T) {
	ctx, srv := testServer(t)
	js := srv.js
	put := func(bucket, key string) {
		t.Helper()
		kv, err := js.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, key, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	put(natsx.BucketDirectory, "user.S-1-5-21-1-2-3-1104")
	put(natsx.BucketConfig, "integration.identity")
	put(natsx.BucketBadges, "user.S-1-5-21-1-2-3-1104")
	put(natsx.BucketIncidents, "inc-1")
	if _, err := js.Publish(ctx, natsx.SubjectIdentityAlerts+".brute", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, natsx.StreamAlerts, jetstream.ConsumerConfig{Durable: "correlator"}); err != nil {
		t.Fatal(err)
	}
	if err := resetHistory(ctx, js); err != nil {
		t.Fatal(err)
	}
	if err := natsx.Check(ctx, js, natsx.NewTopology(1)); err != nil {
		t.Fatalf("topology after the reset: %v", err)
	}
	for stream, want := range map[string]uint64{natsx.StreamAlerts: 0, "KV_" + natsx.BucketBadges: 0, "KV_" + natsx.BucketIncidents: 0,
		"KV_" + natsx.BucketDirectory: 1, "KV_" + natsx.BucketConfig: 1} {
		if got := testkit.StreamMsgs(t, js, stream); got != want {
			t.Errorf("stream %s holds %d messages after the reset, want %d", stream, got, want)
		}
	}
	if _, err := js.Consumer(ctx, natsx.StreamAlerts, "correlator"); err == nil {
		t.Error("the ALERTS consumer outlived the reset")
	}
	if _, err := js.ObjectStore(ctx, natsx.BucketDirectorySnapshot); err != nil {
		t.Errorf("the directory snapshot store: %v", err)
	}
}
