package ports_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/counts"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/ports"
)

const (
	identity = adjoinv1.Side_SIDE_IDENTITY
	endpoint = adjoinv1.Side_SIDE_ENDPOINT
)

// history is, for entities key-0 .. key-(n-1), alerts of both sides in versions 1..3 sent
// newest first or out of order, each entity's alerts named after it.
func (r *countRig) history(prefix string, entities, alerts int) []keyed {
	var out []keyed
	for e := range entities {
		key := fmt.Sprintf("%s-%d", prefix, e)
		for i := range alerts {
			side := identity
			if i%2 == 1 {
				side = endpoint
			}
			id := fmt.Sprintf("%s-a%d", key, i)
			for _, v := range [][]int64{{1, 2, 3}, {3, 1, 2}, {2, 3, 1}}[i%3] {
				out = append(out, keyed{key, r.alert(id, v, side, key)})
			}
		}
	}
	return out
}

// TestCounterCountsExactly folds versions out of order, the same versions again with the
// same id (deduplicated by the stream) and without one (stored twice, as past the duplicate
// window), and checks every record against counts.Apply of the same versions, and that
// CORRELATED holds one copy of each (alert version, entity).
func TestCounterCountsExactly(t *testing.T) {
	r := newCountRig(t, 4)
	h := r.history("user", 30, 6)
	r.publish(t, true, h...)
	r.publish(t, true, h[:40]...)    // same ids: the stream drops them
	r.publish(t, false, h[20:90]...) // no id: stored again
	// Messages that cannot be counted: not a CorrelatedAlert, and one without an entity key.
	bad := nats.NewMsg(natsx.CountsSubject(1, false, "x"))
	bad.Data = []byte("not a protobuf \xff\xff")
	if _, err := r.s.JS.PublishMsg(r.ctx, bad); err != nil {
		t.Fatal(err)
	}
	noKey, err := natsx.NewMsg(natsx.CountsSubject(2, false, "y"), "", &adjoinv1.CorrelatedAlert{Alert: r.alert("y-1", 1, identity, "y")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.s.JS.PublishMsg(r.ctx, noKey); err != nil {
		t.Fatal(err)
	}
	r.run(t, r.counter(r.s.JS, nil))
	eventually(t, 30*time.Second, r.drained)
	if err := r.exact(); err != nil {
		t.Fatal(err)
	}
	dl, err := r.s.JS.Stream(r.ctx, natsx.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	info, err := dl.Info(r.ctx, jetstream.WithSubjectFilter(natsx.SubjectDeadLetter+".correlator.undecodable-count"))
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.Subjects[natsx.SubjectDeadLetter+".correlator.undecodable-count"]; n != 2 {
		t.Errorf("%d dead-lettered counts, want 2", n)
	}
	r.copies(t)
	// The copy of an alert lists the other side's alerts on its entity.
	ec, _, err := r.record("user-0")
	if err != nil {
		t.Fatal(err)
	}
	if len(ec.GetRecent()) == 0 || len(ec.GetSides()) != 2 {
		t.Errorf("record of user-0: %d recent, %d sides, want some and 2", len(ec.GetRecent()), len(ec.GetSides()))
	}
}

// TestCounterRestartsFromSnapshot stops an owner after it wrote snapshots, adds messages
// (newer versions of counted alerts and new alerts), and starts another: it loads the
// snapshot, replays only the tail, and the counts are exact.
func TestCounterRestartsFromSnapshot(t *testing.T) {
	r := newCountRig(t, 2)
	h := r.history("user", 20, 6) // 360 messages, 180 per partition or so
	r.publish(t, true, h...)
	first := r.counter(r.s.JS, nil)
	first.SnapshotFolds = 50
	stop := r.run(t, first)
	eventually(t, 30*time.Second, r.drained)
	stop()
	obs, err := r.s.JS.ObjectStore(r.ctx, natsx.BucketCounter)
	if err != nil {
		t.Fatal(err)
	}
	for p := range r.p {
		if _, err := obs.GetInfo(r.ctx, ports.SnapshotName(p)); err != nil {
			t.Fatalf("snapshot of partition %d: %v", p, err)
		}
	}
	var more []keyed
	for e := range 20 {
		key := fmt.Sprintf("user-%d", e)
		more = append(more, keyed{key, r.alert(key+"-a0", 4, identity, key)}, keyed{key, r.alert(key+"-new", 1, endpoint, key)})
	}
	r.publish(t, true, more...)
	log, logs := observed()
	r.run(t, r.counter(r.s.JS, log))
	eventually(t, 30*time.Second, r.drained)
	if err := r.exact(); err != nil {
		t.Fatal(err)
	}
	loads := logs.FilterMessage("partition owned; state loaded").All()
	if len(loads) != r.p {
		t.Fatalf("%d loads, want %d", len(loads), r.p)
	}
	for _, e := range loads {
		f := e.ContextMap()
		if f["snapshot"] != true || f["replayed"].(int64) >= int64(len(h)/r.p) {
			t.Errorf("load %v: want from a snapshot, replaying less than a partition's history", f)
		}
	}
	r.copies(t)
}

// TestCounterTakeover runs two owners on separate connections, cuts the first off mid-stream
// (its connection closed: its batch in hand is never acknowledged), and checks the second
// takes every partition over: counts exact, every correlated copy stored once.
func TestCounterTakeover(t *testing.T) {
	r := newCountRig(t, 4)
	h := r.history("user", 40, 8) // 960 messages
	r.publish(t, true, h...)
	nc, err := nats.Connect(r.s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	jsA, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	a := r.counter(jsA, nil)
	a.Batch = 16                // many batches, so the cut falls mid-stream
	a.AckWait = 5 * time.Second // what the cut leaves unacknowledged comes back soon
	stopA := r.run(t, a)
	eventually(t, 30*time.Second, func() error {
		for p := range r.p {
			c, err := r.s.JS.Consumer(r.ctx, natsx.StreamCounts, natsx.CounterDurable("correlator", p))
			if err != nil {
				return err
			}
			if info, err := c.Info(r.ctx); err != nil || info.AckFloor.Consumer == 0 {
				return fmt.Errorf("partition %d not started: %v", p, err)
			}
		}
		return nil
	})
	log, logs := observed()
	b := r.counter(r.s.JS, log)
	b.AckWait = 5 * time.Second
	r.run(t, b)
	nc.Close()
	stopA()
	left := 0
	for p := range r.p {
		c, err := r.s.JS.Consumer(r.ctx, natsx.StreamCounts, natsx.CounterDurable("correlator", p))
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(r.ctx)
		if err != nil {
			t.Fatal(err)
		}
		left += int(info.NumPending) + info.NumAckPending
	}
	t.Logf("at the cut, %d of %d messages not yet acknowledged", left, len(h))
	r.publish(t, true, r.history("late", 10, 4)...)
	eventually(t, 60*time.Second, r.drained)
	if err := r.exact(); err != nil {
		t.Fatal(err)
	}
	if n := lines(logs, "partition owned; state loaded", ""); n != r.p {
		t.Errorf("the second owner loaded %d partitions, want %d", n, r.p)
	}
	r.copies(t)
}

// TestCounterFencedOwnerReloads has another writer store a record of the owner's partition
// (as an owner that took over would): the owner's next write of it is refused, it drops its
// state, naks, reloads, and the record ends exact, nothing counted twice.
func TestCounterFencedOwnerReloads(t *testing.T) {
	r := newCountRig(t, 1)
	r.publish(t, true, r.history("user", 5, 4)...)
	log, logs := observed()
	r.run(t, r.counter(r.s.JS, log))
	eventually(t, 30*time.Second, r.drained)
	stale := &adjoinv1.EntityCounts{EntityKey: "user-0", Format: counts.Format}
	data, err := proto.Marshal(stale)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.badges.Put(r.ctx, "user-0", data); err != nil {
		t.Fatal(err)
	}
	r.publish(t, true, keyed{"user-0", r.alert("user-0-a0", 5, identity, "user-0")}, keyed{"user-1", r.alert("user-1-x", 1, endpoint, "user-1")})
	eventually(t, 30*time.Second, func() error {
		if err := r.drained(); err != nil {
			return err
		}
		return r.exact()
	})
	if n := lines(logs, "partition state dropped", "fenced"); n != 1 {
		t.Errorf("dropped as fenced %d times, want 1", n)
	}
	if n := lines(logs, "partition owned; state loaded", ""); n != 2 {
		t.Errorf("loaded %d times, want 2", n)
	}
}

// TestCounterConvertsFormat1Records starts an owner on a bucket of records of the old format
// (every alert, written by counts.Apply) and no snapshot: each record is rewritten in the new
// format with the same badge, and a later version of an alert they count is counted once.
func TestCounterConvertsFormat1Records(t *testing.T) {
	r := newCountRig(t, 4)
	old := map[string]*adjoinv1.EntityCounts{}
	for _, ka := range r.history("old", 40, 5) {
		r.msg(ka.a, ka.key) // the ground truth only: the old correlator counted these
	}
	for key, ec := range r.truth {
		old[key] = proto.Clone(ec).(*adjoinv1.EntityCounts)
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(ec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.badges.Put(r.ctx, key, data); err != nil {
			t.Fatal(err)
		}
	}
	r.ids = map[string]bool{}
	// New messages: a newer version of an old alert, and one new entity in every partition,
	// so each partition gets an owner.
	late := []keyed{{"old-3", r.alert("old-3-a1", 4, endpoint, "old-3")}}
	for p, i := 0, 0; p < r.p; i++ {
		key := fmt.Sprintf("new-%d", i)
		if natsx.Partition(key, r.p) == p {
			late = append(late, keyed{key, r.alert(key+"-a", 1, identity, key)})
			p++
		}
	}
	r.publish(t, true, late...)
	r.run(t, r.counter(r.s.JS, nil))
	eventually(t, 30*time.Second, func() error {
		if err := r.drained(); err != nil {
			return err
		}
		return r.exact()
	})
	for key, ec := range old {
		if key == "old-3" {
			continue
		}
		got, _, err := r.record(key)
		if err != nil {
			t.Fatal(err)
		}
		for _, side := range []adjoinv1.Side{identity, endpoint} {
			if g, w := counts.Summarise(got, side), counts.Summarise(ec, side); !proto.Equal(g, w) {
				t.Errorf("%s %s: got %v, want %v as before", key, side, g, w)
			}
		}
	}
	r.copies(t)
}
