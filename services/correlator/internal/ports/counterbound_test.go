package ports_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/counts"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/ports"
)

// TestCounterOneEntity20000 counts 20,000 alerts on one entity: all counted, the record stays
// within counts.MaxRecordBytes; and with a PinnedTTL about as long as the load, the owner
// keeps its pin.
func TestCounterOneEntity20000(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 alerts")
	}
	r := newCountRig(t, 2)
	const n = 20_000
	all := make([]keyed, 0, n)
	for i := range n {
		side := identity
		if i%3 == 0 {
			side = endpoint
		}
		all = append(all, keyed{"hot", r.alert(fmt.Sprintf("hot-%05d", i), 1+int64(i%2), side, "hot")})
	}
	r.publish(t, true, all...)
	start := time.Now()
	log, logs := observed()
	c := r.counter(r.s.JS, log)
	c.PinnedTTL = time.Second // about the load's replay of 20,000 messages here: the pin must be kept
	r.run(t, c)
	eventually(t, 120*time.Second, r.drained)
	t.Logf("%d alerts on one entity folded in %s", n, time.Since(start))
	if err := r.exact(); err != nil {
		t.Fatal(err)
	}
	ec, size, err := r.record("hot")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, s := range ec.GetSides() {
		total += s.GetTotal()
	}
	if total != n || size > counts.MaxRecordBytes {
		t.Errorf("record: %d alerts counted, %d bytes; want %d and at most %d", total, size, n, counts.MaxRecordBytes)
	}
	t.Logf("record %d bytes, %d recent", size, len(ec.GetRecent()))
	if n, d := lines(logs, "partition owned; state loaded", ""), lines(logs, "partition state dropped", ""); n != 1 || d != 0 {
		t.Errorf("%d loads, %d drops: want the pin kept, 1 load and no drop", n, d)
		for _, e := range logs.All() {
			t.Log(e.Time.Format("15:04:05.000"), e.Message, e.ContextMap())
		}
	}
}

// TestCounterRefusesGarbageSnapshot stores an object that is not a partition snapshot: the
// owner refuses to load it (no panic, no record written from a half-read state) and keeps
// the partition's messages for when it can.
func TestCounterRefusesGarbageSnapshot(t *testing.T) {
	r := newCountRig(t, 1)
	obs, err := r.s.JS.ObjectStore(r.ctx, natsx.BucketCounter)
	if err != nil {
		t.Fatal(err)
	}
	for _, garbage := range []string{"", "ADJCNT01", "ADJCNT01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09garbage"} {
		if _, err := obs.PutString(r.ctx, ports.SnapshotName(0), garbage); err != nil {
			t.Fatal(err)
		}
		r.publish(t, true, r.history("user", 2, 2)...)
		log, logs := observed()
		stop := r.run(t, r.counter(r.s.JS, log))
		eventually(t, 10*time.Second, func() error {
			if logs.FilterMessage("loading the partition state failed; will retry").Len() == 0 {
				return errNotYet
			}
			return nil
		})
		stop()
		if _, err := r.badges.Get(r.ctx, "user-0"); err == nil {
			t.Errorf("snapshot %q: a record was written", garbage)
		}
	}
}

// TestCounterWritesBacklogInSteps seeds a partition from 5,000 old-format records: a batch
// writes its own entities and at most 4,096 others, so the conversion spreads over batches
// (none of them past its deadline) and ends complete.
func TestCounterWritesBacklogInSteps(t *testing.T) {
	r := newCountRig(t, 1)
	const n, backlog = 5000, 4096
	for i := range n {
		key := fmt.Sprintf("old-%d", i)
		ec := &adjoinv1.EntityCounts{EntityKey: key}
		counts.Apply(ec, r.alert(key+"-a", 1, identity, key), key)
		r.truth[key] = ec
		data, err := proto.Marshal(ec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.badges.Put(r.ctx, key, data); err != nil {
			t.Fatal(err)
		}
	}
	converted := func() int {
		t.Helper()
		c := 0
		for key := range r.truth {
			if ec, _, err := r.record(key); err == nil && ec.GetFormat() == counts.Format {
				c++
			}
		}
		return c
	}
	r.publish(t, true, keyed{"new-0", r.alert("new-0-a", 1, identity, "new-0")})
	r.run(t, r.counter(r.s.JS, nil))
	eventually(t, 30*time.Second, r.drained)
	if got := converted(); got != backlog+1 {
		t.Errorf("after one batch: %d records in the new format, want %d (its own and %d of the backlog)", got, backlog+1, backlog)
	}
	r.publish(t, true, keyed{"new-1", r.alert("new-1-a", 1, identity, "new-1")})
	eventually(t, 30*time.Second, func() error {
		if err := r.drained(); err != nil {
			return err
		}
		return r.exact()
	})
}
