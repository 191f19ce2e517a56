package ports_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
)

// TestCounterRetriesThenDeadLetters has adjoin_badges refuse every record (values over its
// size limit): the batch is retried with a delay, then dead-lettered at MaxDeliveries
// ("count-failed"). The fold stays in the state with the entity still to write, so once the
// bucket takes records again the next batch writes it, and the counts are exact.
func TestCounterRetriesThenDeadLetters(t *testing.T) {
	r := newCountRig(t, 1)
	cfg := natsx.NewTopology(1)
	var badges jetstream.KeyValueConfig
	for _, b := range cfg.Buckets {
		if b.Bucket == natsx.BucketBadges {
			badges = b
		}
	}
	small := badges
	small.MaxValueSize = 16
	if _, err := r.s.JS.CreateOrUpdateKeyValue(r.ctx, small); err != nil {
		t.Fatal(err)
	}
	r.publish(t, true, keyed{"user-0", r.alert("user-0-a", 1, identity, "user-0")})
	c := r.counter(r.s.JS, nil)
	c.MaxDeliveries = 2
	r.run(t, c)
	dl, err := r.s.JS.Stream(r.ctx, natsx.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	subject := natsx.SubjectDeadLetter + ".correlator.count-failed"
	eventually(t, 30*time.Second, func() error {
		info, err := dl.Info(r.ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			return err
		}
		if info.State.Subjects[subject] != 1 {
			return errNotYet
		}
		return r.drained()
	})
	if _, err := r.badges.Get(r.ctx, "user-0"); err == nil {
		t.Fatal("a record was stored past the bucket's size limit")
	}
	if _, err := r.s.JS.CreateOrUpdateKeyValue(r.ctx, badges); err != nil {
		t.Fatal(err)
	}
	r.publish(t, true, keyed{"user-0", r.alert("user-0-b", 1, endpoint, "user-0")})
	eventually(t, 30*time.Second, func() error {
		if err := r.drained(); err != nil {
			return err
		}
		return r.exact()
	})
}
