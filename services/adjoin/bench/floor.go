package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// FloorResult is the JetStream work the contract asks of every alert (DESIGN.md and
// docs/architecture.md: ALERTS, then COUNTS partitioned by entity, then a CORRELATED copy and
// the entity's adjoin_badges record), done by the harness itself with no adjoin code: three
// stream writes, one KV write and two consumer deliveries per alert, against the raw round
// trip's one write and one delivery. No implementation of the contract goes faster on the
// same server; AlertsPerSec over the raw round trip is the ceiling of the end-to-end ratio.
type FloorResult struct {
	Messages int `json:"messages"`
	// AlertsPerSec is Messages over the time from the first publish until both stages had
	// acknowledged every message.
	AlertsPerSec float64 `json:"alerts_per_s"`
	// Ratio is AlertsPerSec over the raw round trip of the same run.
	Ratio float64 `json:"ratio"`
	// OtherCPUShare is the machine's CPU other processes used meanwhile (cpuWindow).
	OtherCPUShare float64 `json:"other_cpu_share"`
}

const (
	floorAlerts, floorCounts, floorCorrelated, floorBucket = "BENCH_FLOOR_ALERTS", "BENCH_FLOOR_COUNTS", "BENCH_FLOOR_CORRELATED", "bench_floor"
	floorPartitions                                        = natsx.DefaultPartitions
	floorBatch                                             = 512 // the correlator's fetch
	floorRecord                                            = 160 // bytes of a typical adjoin_badges record
)

// measureFloor pushes n alert messages (the end-to-end mix, one user each, every alert on a
// user of its own within a batch) through the contract's path, stage by stage as the
// correlator pipelines it: a resolver fetching 512 at a time from ALERTS, decoding each,
// publishing it to its user's COUNTS partition asynchronously and acknowledging the batch
// once the publishes are; and per partition an owner fetching 512 at a time, publishing each
// message's CORRELATED copy and its user's record (one per user per batch) asynchronously,
// then acknowledging. The streams are file storage like adjoin's and deleted afterwards.
func measureFloor(ctx context.Context, js jetstream.JetStream, n int, raw RawResult) (FloorResult, error) {
	cleanup, err := floorStreams(ctx, js)
	defer cleanup()
	if err != nil {
		return FloorResult{}, err
	}
	msgs := make([]*nats.Msg, n)
	for i := range msgs {
		if msgs[i], err = alertMsg(alert("floor", i, i)); err != nil {
			return FloorResult{}, err
		}
		msgs[i].Subject = "bench.floor.alerts"
	}
	resolver, err := js.CreateOrUpdateConsumer(ctx, floorAlerts, jetstream.ConsumerConfig{Durable: "resolve",
		AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 2 * floorBatch})
	if err != nil {
		return FloorResult{}, err
	}
	owners := make([]jetstream.Consumer, floorPartitions)
	for p := range owners {
		if owners[p], err = js.CreateOrUpdateConsumer(ctx, floorCounts, jetstream.ConsumerConfig{Durable: "count-" + strconv.Itoa(p),
			AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 2 * floorBatch, FilterSubject: "bench.floor.counts." + strconv.Itoa(p) + ".>"}); err != nil {
			return FloorResult{}, err
		}
	}
	var counted atomic.Int64
	cpu := startCPUWindow()
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		p := &publisher{js: js}
		for _, m := range msgs {
			if err := p.publish(m); err != nil {
				return err
			}
		}
		return p.flush()
	})
	g.Go(func() error { return floorStage(gctx, js, resolver, int64(n), nil, floorResolve) })
	for p := range owners {
		g.Go(func() error { return floorStage(gctx, js, owners[p], int64(n), &counted, floorCount) })
	}
	if err := g.Wait(); err != nil {
		return FloorResult{}, fmt.Errorf("floor: %w", err)
	}
	// Acks are fire-and-forget: wait until the server has them all.
	durables := map[string]string{"resolve": floorAlerts}
	for p := range owners {
		durables["count-"+strconv.Itoa(p)] = floorCounts
	}
	for durable, stream := range durables {
		if _, err := waitConsumer(ctx, js, stream, durable, time.Millisecond, time.Minute); err != nil {
			return FloorResult{}, fmt.Errorf("floor: %w", err)
		}
	}
	res := FloorResult{Messages: n, AlertsPerSec: float64(n) / time.Since(start).Seconds(), OtherCPUShare: cpu.otherShare()}
	if raw.RoundTripPerSec > 0 {
		res.Ratio = res.AlertsPerSec / raw.RoundTripPerSec
	}
	return res, nil
}

// floorStreams makes the three streams and the bucket; cleanup deletes what was made.
func floorStreams(ctx context.Context, js jetstream.JetStream) (cleanup func(), err error) {
	var made []string
	cleanup = func() {
		for _, s := range made {
			js.DeleteStream(context.WithoutCancel(ctx), s) //nolint:errcheck // thrown away anyway
		}
		js.DeleteKeyValue(context.WithoutCancel(ctx), floorBucket) //nolint:errcheck // thrown away anyway
	}
	for name, subject := range map[string]string{floorAlerts: "bench.floor.alerts", floorCounts: "bench.floor.counts.>", floorCorrelated: "bench.floor.correlated.>"} {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject},
			Storage: jetstream.FileStorage, Duplicates: 2 * time.Hour}); err != nil {
			return cleanup, err
		}
		made = append(made, name)
	}
	_, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: floorBucket, Storage: jetstream.FileStorage})
	return cleanup, err
}

// floorStep is what a stage does with one fetched batch: publish through p.
type floorStep func(p *publisher, batch []jetstream.Msg) error

// floorStage fetches batches from cons and hands each to step until done counts total
// messages (nil: this stage alone counts to total), acknowledging each batch after its
// publishes are acknowledged.
func floorStage(ctx context.Context, js jetstream.JetStream, cons jetstream.Consumer, total int64, done *atomic.Int64, step floorStep) error {
	if done == nil {
		done = new(atomic.Int64)
	}
	// Its own context: the stages' pending publishes together would pass one context's bound.
	own, err := jetstream.New(js.Conn(), jetstream.WithPublishAsyncMaxPending(2*publishWindow))
	if err != nil {
		return err
	}
	p := &publisher{js: own}
	for done.Load() < total {
		fetched, err := cons.Fetch(floorBatch, jetstream.FetchMaxWait(100*time.Millisecond))
		if err != nil {
			return err
		}
		var batch []jetstream.Msg
		for m := range fetched.Messages() {
			batch = append(batch, m)
		}
		if err := fetched.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
			return err
		}
		if len(batch) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			continue
		}
		if err := step(p, batch); err != nil {
			return err
		}
		if err := p.flush(); err != nil {
			return err
		}
		for _, m := range batch {
			if err := m.Ack(); err != nil {
				return err
			}
		}
		done.Add(int64(len(batch)))
	}
	return nil
}

// floorResolve decodes each alert, as the resolver must to find its entities, and hands it to
// its user's partition.
func floorResolve(p *publisher, batch []jetstream.Msg) error {
	for _, m := range batch {
		var a adjoinv1.Alert
		if err := natsx.Decode(m.Headers(), m.Data(), &a); err != nil {
			return err
		}
		user := a.GetEntities()[0].GetSamAccountName()
		out := &nats.Msg{Subject: "bench.floor.counts." + strconv.Itoa(natsx.Partition(user, floorPartitions)) + "." + user,
			Header: nats.Header{}, Data: m.Data()}
		for k, v := range m.Headers() {
			out.Header[k] = v
		}
		out.Header.Set(jetstream.MsgIDHeader, a.GetId()+"|"+user)
		if err := p.publish(out); err != nil {
			return err
		}
	}
	return nil
}

// floorCount publishes each message's correlated copy, then each user's record once.
func floorCount(p *publisher, batch []jetstream.Msg) error {
	record := make([]byte, floorRecord)
	users := map[string]bool{}
	for _, m := range batch {
		user := m.Subject()[strings.LastIndexByte(m.Subject(), '.')+1:]
		users[user] = true
		out := &nats.Msg{Subject: "bench.floor.correlated.user." + user, Header: nats.Header{}, Data: m.Data()}
		out.Header.Set(jetstream.MsgIDHeader, m.Headers().Get(jetstream.MsgIDHeader))
		if err := p.publish(out); err != nil {
			return err
		}
	}
	for user := range users {
		if err := p.publish(&nats.Msg{Subject: "$KV." + floorBucket + "." + user, Data: record}); err != nil {
			return err
		}
	}
	return nil
}
