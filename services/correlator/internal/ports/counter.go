package ports

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/adjoin/adjoin/pkg/consume"
	"github.com/adjoin/adjoin/pkg/counts"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// counterGroup is the priority group of the partition owners' consumers: its pinned-client
// policy hands a partition's messages to one owner at a time, across every correlator instance.
const counterGroup = "counter"

// Defaults of Counter.
const (
	defaultCounterBatch  = 512
	defaultSnapshotEvery = time.Minute
	defaultSnapshotFolds = 50_000
)

// DefaultStateRetention is how long a partition owner keeps the full state of an alert not
// updated, and how long more the tombstone of a resolved one (--state-retention).
const DefaultStateRetention = 180 * 24 * time.Hour

// DefaultPinnedTTL is how long a partition owner (--takeover-after) or the incident builder
// may go without pulling before another instance takes over.
const DefaultPinnedTTL = 30 * time.Second

// Counter is stage 2 of the correlator: for each partition p of COUNTS it runs a pull consumer
// "<Durable>-count-<p>" filtered on counts.<p>.> and pinned to one client at a time across
// every correlator instance, so exactly one instance owns a partition. The owner keeps the
// partition's counting state (a counts.Ledger) in memory, folds each batch into it, publishes
// each message's correlated copy, writes each changed entity's record once per batch, and
// acknowledges the batch once every publish and write is acknowledged.
//
// Becoming owner (first messages, or messages again after the pin was lost) loads the state:
// the snapshot object "p<p>" of adjoin_counter, then COUNTS replayed from the sequence after
// it to the stream's end; without a snapshot, the adjoin_badges records of the partition
// seed it (format 1 exactly) and COUNTS is replayed from its start.
//
// Records are a function of the state, never deltas, so writing one twice is harmless. Two
// fences keep an owner that woke up late (another took the partition over meanwhile) from
// writing stale records: before a batch's writes it probes its pin (a pull request with its
// pin id, refused when another client holds the partition), and each write expects the
// revision this owner last read or wrote for the key (Nats-Expected-Last-Subject-Sequence;
// a key it has not written since its load is written expecting no record, and on a conflict
// its revision is read and the write made again). A fenced owner drops its state, naks its
// batch and loads again. The state held while pinned is also kept pinned: during a load or a
// batch, the owner probes every PinnedTTL/4.
//
// Ack rule (package consume runs the fetch loop, the retries and the dead letters): success →
// Ack once the batch's copies and records are stored; undecodable → Term and a copy on
// DEADLETTER ("undecodable-count"); fenced → Nak, state reloaded; any other failure →
// NakWithDelay (1s doubling up to 32s), and at the MaxDeliveries-th delivery Term with a copy
// on DEADLETTER ("count-failed").
type Counter struct {
	JS      jetstream.JetStream
	Durable string
	// Partitions is P, the number of partitions of COUNTS (natsx.DefaultPartitions when 0).
	Partitions int
	Log        *zap.Logger
	// Metrics, when set, counts partitions owned, messages folded, snapshots, load times.
	Metrics *metrics.Metrics
	// MaxDeliveries is the delivery at which a failing message is given up (0:
	// natsx.MaxDeliveries).
	MaxDeliveries int
	// StateRetention is how long an alert not updated keeps its full state before it is
	// compacted to a tombstone, and how long more a resolved one keeps its tombstone
	// (0: DefaultStateRetention; see counts.Ledger.Compact).
	StateRetention time.Duration
	// MaxHeld bounds the alerts one partition's state holds (0: counts.DefaultMaxHeld); see
	// counts.Ledger.Fold for what happens past it.
	MaxHeld int
	// Batch is the most messages fetched at once (default 512, at most consume.MaxBatch).
	Batch int
	// PinnedTTL is how long an owner may go without pulling before another takes over
	// (0: DefaultPinnedTTL); it must exceed the time one batch (and a load) takes.
	PinnedTTL time.Duration
	// SnapshotEvery and SnapshotFolds say when the state is written to adjoin_counter after a
	// batch: that long since the last snapshot, or that many messages folded (default 60s and
	// 50,000).
	SnapshotEvery time.Duration
	SnapshotFolds int
	// AckWait is how long JetStream waits for an ack before redelivering (0: natsx.AckWait).
	AckWait time.Duration

	// stall bounds each wait of a load (0: defaultLoadStall); tests shorten it.
	stall time.Duration
}

func (c *Counter) withDefaults() Counter {
	d := *c
	if d.Partitions <= 0 {
		d.Partitions = natsx.DefaultPartitions
	}
	if d.MaxDeliveries <= 0 {
		d.MaxDeliveries = natsx.MaxDeliveries
	}
	if d.StateRetention <= 0 {
		d.StateRetention = DefaultStateRetention
	}
	if d.MaxHeld <= 0 {
		d.MaxHeld = counts.DefaultMaxHeld
	}
	if d.Batch <= 0 {
		d.Batch = defaultCounterBatch
	}
	if d.PinnedTTL <= 0 {
		d.PinnedTTL = DefaultPinnedTTL
	}
	if d.SnapshotEvery <= 0 {
		d.SnapshotEvery = defaultSnapshotEvery
	}
	if d.SnapshotFolds <= 0 {
		d.SnapshotFolds = defaultSnapshotFolds
	}
	if d.AckWait <= 0 {
		d.AckWait = natsx.AckWait
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	return d
}

// Run owns what partitions it can until ctx ends; the batch in hand is finished first.
func (c *Counter) Run(ctx context.Context) error {
	cfg := c.withDefaults()
	g, gctx := errgroup.WithContext(ctx)
	for p := range cfg.Partitions {
		g.Go(func() error {
			return cfg.runPartition(gctx, p)
		})
	}
	return g.Wait()
}

// consumerConfig is partition p's durable.
func (c *Counter) consumerConfig(p int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        natsx.CounterDurable(c.Durable, p),
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        c.AckWait,
		MaxAckPending:  2 * c.Batch,
		FilterSubjects: []string{natsx.CountsFilter(p)},
		PriorityGroups: []string{counterGroup},
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PinnedTTL:      c.PinnedTTL,
	}
}

func (c *Counter) runPartition(ctx context.Context, p int) error {
	cfg := c.consumerConfig(p)
	o := newOwner(c, p)
	defer func() {
		// A snapshot now spares the next owner the replay of what this one folded, and
		// unpinning lets it take over at once rather than after PinnedTTL.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.AckWait)
		defer cancel()
		o.snapshot(sctx, true)
		if o.owned() {
			o.unpin(sctx)
		}
		o.drop("stopped")
	}()
	r := &consume.Runner{
		Consumer: func(ctx context.Context) (jetstream.Consumer, error) {
			return c.JS.CreateOrUpdateConsumer(ctx, natsx.StreamCounts, cfg)
		},
		Name: cfg.Durable, JS: c.JS, Service: service, FailReason: "count-failed", MaxDeliveries: c.MaxDeliveries,
		AckWait: c.AckWait, Batch: c.Batch, Eager: true, Group: counterGroup, Metrics: c.Metrics, Log: c.Log,
		// An idle pull must come back within PinnedTTL, or the pin would lapse while nothing moves.
		MaxWait: min(time.Second, c.PinnedTTL/2),
		// The handler loads the state under the run's ctx: a load may outlast a batch's deadline.
		Handle: func(_ context.Context, b *consume.Batch) error { return o.handle(ctx, b) },
		// Another instance holds the partition now: what this one holds may be stale.
		OnPinLost: func() { o.drop("pin lost") },
	}
	if err := r.Run(ctx); err != nil {
		return fmt.Errorf("partition %d: %w", p, err)
	}
	return nil
}

// unpin releases the partition's pin as this owner stops, so that another instance's pull
// takes it over at once. Should another instance hold the pin already, it loses it and
// reloads its state: harmless.
func (o *owner) unpin(ctx context.Context) {
	st, err := o.c.JS.Stream(ctx, natsx.StreamCounts)
	if err == nil {
		err = st.UnpinConsumer(ctx, natsx.CounterDurable(o.c.Durable, o.p), counterGroup)
	}
	if err != nil {
		o.log.Warn("could not release the partition; another instance takes it over after the pinned TTL", logx.Err(err))
	}
}
