package ports_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/ports"
)

// TestCounterSnapshotsBeforeFirstRecord checks, on a new installation, that no record reaches
// adjoin_badges while its partition has no snapshot: an owner killed between its first
// record writes and its first snapshot would otherwise leave new-format records without a
// snapshot, which the next owner seeds as counters and counts again on its replay.
func TestCounterSnapshotsBeforeFirstRecord(t *testing.T) {
	r := newCountRig(t, 4)
	obs, err := r.s.JS.ObjectStore(r.ctx, natsx.BucketCounter)
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.badges.WatchAll(r.ctx, jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop() //nolint:errcheck // test
	r.run(t, r.counter(r.s.JS, nil))
	h := r.history("user", 40, 2)
	r.publish(t, true, h...)
	seen := map[int]bool{}
	deadline := time.After(30 * time.Second)
	for len(seen) < r.p {
		select {
		case e := <-w.Updates():
			if e == nil {
				continue
			}
			p := natsx.Partition(e.Key(), r.p)
			if seen[p] {
				continue
			}
			seen[p] = true
			if _, err := obs.GetInfo(r.ctx, ports.SnapshotName(p)); err != nil {
				t.Errorf("record %s of partition %d stored while the partition has no snapshot: %v", e.Key(), p, err)
			}
		case <-deadline:
			t.Fatalf("records of %d of %d partitions seen in 30s", len(seen), r.p)
		}
	}
	eventually(t, 30*time.Second, r.drained)
	if err := r.exact(); err != nil {
		t.Fatal(err)
	}
}
