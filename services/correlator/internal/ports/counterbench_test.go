package ports_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// benchCounter times one Counter (8 partitions, loaded) through b.N new COUNTS messages over
// entities entities, from the first publish until every partition is drained: folds,
// correlated copies, record writes, acknowledgements.
func benchCounter(b *testing.B, entities int) {
	r := newCountRig(b, natsx.DefaultPartitions)
	c := r.counter(r.s.JS, nil)
	c.SnapshotFolds = 50_000
	r.run(b, c)
	var warm []keyed
	for p, i := 0, 0; p < r.p; i++ { // one message per partition: every partition loaded
		if key := fmt.Sprintf("warm-%d", i); natsx.Partition(key, r.p) == p {
			warm = append(warm, keyed{key, r.alert(key, 1, identity, key)})
			p++
		}
	}
	r.publish(b, true, warm...)
	eventually(b, 30*time.Second, r.drained)
	msgs := make([]*nats.Msg, b.N)
	for i := range msgs {
		key := fmt.Sprintf("user-%d", i%entities)
		a := r.alert(fmt.Sprintf("a-%d", i), 1, adjoinSide(i), key)
		id := entity.HashID("correlated", a.GetId(), "1", key)
		m, err := natsx.NewMsg(natsx.CountsSubject(natsx.Partition(key, r.p), false, key), id, &adjoinv1.CorrelatedAlert{
			Alert: a, EntityKey: key, CorrelatedTime: timestamppb.New(r.t0),
			Resolutions: []*adjoinv1.Resolution{{EntityKey: key, Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Certainty: 1}}})
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = m
	}
	b.ResetTimer()
	start := time.Now()
	pub := natsx.NewBatchContext(r.ctx, r.s.JS)
	for _, m := range msgs {
		if err := pub.Add(m); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := pub.Wait(r.ctx); err != nil {
		b.Fatal(err)
	}
	published := time.Since(start)
	eventually(b, 5*time.Minute, r.drained)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N)/published.Seconds(), "published/s") // the publishes alone, meanwhile
}

func adjoinSide(i int) adjoinv1.Side {
	if i%3 == 0 {
		return endpoint
	}
	return identity
}

// BenchmarkCounterSpread spreads the messages over 10,000 entities.
func BenchmarkCounterSpread(b *testing.B) { benchCounter(b, 10_000) }

// BenchmarkCounterOneEntity puts every message on one entity.
func BenchmarkCounterOneEntity(b *testing.B) { benchCounter(b, 1) }
