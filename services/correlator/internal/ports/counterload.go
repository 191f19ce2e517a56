package ports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/counts"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// loadTimeout bounds one load (snapshot, seed, replay).
const loadTimeout = 10 * time.Minute

// load builds the partition's state: the snapshot and COUNTS replayed after it, or, without
// a snapshot, the partition's adjoin_badges records and COUNTS replayed from its start. Every
// entity the replay or the seed changed is dirty: its stored record may not show it yet.
func (o *owner) load(ctx context.Context) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	l := counts.NewLedger()
	l.MaxHeld = o.c.MaxHeld
	o.revs, o.dirty = map[string]uint64{}, map[string]struct{}{}
	seq, found, err := o.readSnapshot(ctx, l)
	if err != nil {
		return err
	}
	var seeded, inexact int
	if !found {
		if seeded, inexact, err = o.seed(ctx, l); err != nil {
			return err
		}
		// The seeded state (empty on a new installation) is written at once, as of sequence 0
		// (replay everything), before this owner writes any record: records in the new format
		// are then never the only copy of what the old-format ones held, and a later owner
		// never finds new-format records without a snapshot, which it could only seed as
		// counters and would count again on the replay from the start (seen in chaos
		// scenario 7: an owner SIGKILLed after its first writes, before its first snapshot).
		if _, err := o.writeSnapshot(ctx, l, 0); err != nil {
			return err
		}
	}
	last, replayed, err := o.replay(ctx, l, seq)
	if err != nil {
		return err
	}
	o.ledger, o.lastSeq, o.sinceSnap = l, max(seq, last), 0
	o.lastSnap = time.Now()
	if !found {
		o.lastSnap = time.Time{} // write the first snapshot after the first batch
	}
	took := time.Since(start)
	entities, alerts := l.Len()
	o.log.Info("partition owned; state loaded", zap.Bool("snapshot", found), zap.Uint64("snapshot_sequence", seq),
		zap.Int("seeded_records", seeded), zap.Int("replayed", replayed), zap.Uint64("last_sequence", o.lastSeq),
		zap.Int("entities", entities), zap.Int("alerts", alerts), zap.Int("dirty", len(o.dirty)), zap.Duration("took", took))
	if inexact > 0 {
		o.log.Warn("records of the new format seeded without a snapshot: only their counters are known, a later version of an alert they count may be counted twice",
			zap.Int("records", inexact))
	}
	if m := o.c.Metrics; m != nil {
		m.CounterPartitions.Inc()
		m.CounterLoadSeconds.Observe(took.Seconds())
	}
	return nil
}

// defaultLoadStall bounds each wait of a load: each JetStream request (a lookup, a consumer's
// creation or info; natsx.RequestTimeout), the seed's wait for its watcher and for each next
// record, the replay's wait for its next messages. A request that a cluster's leader change
// leaves unanswered (seen in chaos scenario 3: a lookup of the durable and one of the snapshot
// bucket waited minutes), a watcher left without its consumer, would otherwise hold the batch
// and the partition's pin for loadTimeout; failed, the load is tried again with the batch's
// next delivery.
const defaultLoadStall = natsx.RequestTimeout

// loadStall is Counter's bound on each wait of a load (defaultLoadStall unless a test sets it).
func (c *Counter) loadStall() time.Duration {
	if c.stall > 0 {
		return c.stall
	}
	return defaultLoadStall
}

// step bounds one JetStream request of a load.
func (o *owner) step(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, o.c.loadStall())
}

// seed loads the partition's adjoin_badges records into l: a format-1 record converts
// exactly and is written again in the new format; a format-2 one gives counters only.
func (o *owner) seed(ctx context.Context, l *counts.Ledger) (seeded, inexact int, err error) {
	sctx, scancel := o.step(ctx)
	kv, err := o.badgesKV(sctx)
	scancel()
	if err != nil {
		return 0, 0, err
	}
	// Creating the watcher's consumer is a request that a cluster's leader change can leave
	// unanswered: it gets loadStall, not the whole load's deadline.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	unanswered := time.AfterFunc(o.c.loadStall(), cancel)
	w, err := kv.WatchAll(wctx, jetstream.IgnoreDeletes())
	unanswered.Stop()
	if err != nil {
		return 0, 0, fmt.Errorf("reading %s: %w", natsx.BucketBadges, err)
	}
	defer w.Stop() //nolint:errcheck // nothing to do about it
	stall := time.NewTimer(o.c.loadStall())
	defer stall.Stop()
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("reading %s: %w", natsx.BucketBadges, ctx.Err())
		case <-stall.C:
			return 0, 0, fmt.Errorf("reading %s: nothing delivered for %s after %d records", natsx.BucketBadges, o.c.loadStall(), seeded)
		case e = <-w.Updates():
		}
		stall.Reset(o.c.loadStall())
		if e == nil {
			return seeded, inexact, nil // every record read
		}
		key := e.Key()
		if natsx.Partition(key, o.c.Partitions) != o.p {
			continue
		}
		var ec adjoinv1.EntityCounts
		if err := natsx.Decode(nil, e.Value(), &ec); err != nil {
			o.log.Warn("a stored record is unreadable; not seeded", zap.String("key", key), zap.Error(err))
			continue
		}
		if ec.GetEntityKey() == "" {
			ec.EntityKey = key
		}
		exact, err := l.Seed(&ec)
		if err != nil {
			o.log.Warn("a stored record cannot be seeded; not seeded", zap.String("key", key), zap.Error(err))
			continue
		}
		o.revs[key] = e.Revision()
		seeded++
		if exact {
			o.dirty[key] = struct{}{}
		} else {
			inexact++
		}
	}
}

// replayBatch is the most messages one replay fetch asks for.
const replayBatch = 1024

// replay folds the partition's COUNTS messages after sequence after into l, up to the last one
// the partition's durable has delivered (any of them may be acknowledged, so counted in a
// record: the state must hold them all before this owner writes a record), and returns the
// last sequence folded and how many messages were read. What comes after, the durable delivers.
//
// It reads through one ephemeral consumer of its own (no acks, in memory, one replica), whose
// consumer sequence must grow by one from message to message: a gap (the consumer lost and
// made again by a leader change) fails the load. An empty fetch is not the end: a consumer
// leader moving in a cluster, or a loaded server, answers nothing for a while. Only reaching
// the target (or the stream having nothing more for the partition) ends the replay; no
// progress for loadStall fails the load, which is retried. Ending early would leave
// acknowledged messages out of the state, and the next records written from it would count
// less than before (seen in chaos scenarios 3 and 7 under load).
func (o *owner) replay(ctx context.Context, l *counts.Ledger, after uint64) (last uint64, n int, err error) {
	target, err := o.delivered(ctx)
	if err != nil || target <= after {
		return 0, 0, err
	}
	cons, err := o.replayConsumer(ctx, after)
	if err != nil {
		return 0, 0, fmt.Errorf("replaying %s: %w", natsx.StreamCounts, err)
	}
	defer o.deleteConsumer(cons)
	progress, consSeq := time.Now(), uint64(0)
	for {
		batch, err := cons.Fetch(replayBatch, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			return 0, 0, fmt.Errorf("replaying %s: %w", natsx.StreamCounts, err)
		}
		got, done := 0, false
		for m := range batch.Messages() {
			meta, err := m.Metadata()
			if err != nil {
				continue
			}
			if meta.Sequence.Consumer != consSeq+1 {
				return 0, 0, fmt.Errorf("replaying %s: the replay's consumer jumped from its message %d to %d (made again by the server?)",
					natsx.StreamCounts, consSeq, meta.Sequence.Consumer)
			}
			consSeq = meta.Sequence.Consumer
			got++
			n++
			last = max(last, meta.Sequence.Stream)
			done = done || meta.NumPending == 0 || meta.Sequence.Stream >= target
			var c adjoinv1.CorrelatedAlert
			if natsx.Decode(m.Headers(), m.Data(), &c) != nil || checkCount(&c) != "" {
				continue // the durable dead-letters it
			}
			if l.Fold(&c) {
				o.dirty[c.GetEntityKey()] = struct{}{}
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return 0, 0, fmt.Errorf("replaying %s: %w", natsx.StreamCounts, err)
		}
		switch {
		case done:
			return last, n, nil
		case got > 0:
			progress = time.Now()
		case n == 0 && nothingAfter(cons):
			// The partition's messages after the snapshot are gone (COUNTS keeps a week):
			// the records hold what they counted, the state cannot.
			o.log.Warn("nothing left on COUNTS to replay after the snapshot; alerts counted since then are only in the records",
				zap.Uint64("snapshot_sequence", after), zap.Uint64("delivered_up_to", target))
			return 0, 0, nil
		case ctx.Err() != nil:
			return 0, 0, fmt.Errorf("replaying %s: %w", natsx.StreamCounts, ctx.Err())
		case time.Since(progress) > o.c.loadStall():
			return 0, 0, fmt.Errorf("replaying %s: nothing delivered for %s at sequence %d of %d", natsx.StreamCounts, o.c.loadStall(), last, target)
		}
	}
}

// delivered is the last COUNTS sequence the partition's durable has delivered.
func (o *owner) delivered(ctx context.Context) (uint64, error) {
	sctx, cancel := o.step(ctx)
	defer cancel()
	durable, err := o.c.JS.Consumer(sctx, natsx.StreamCounts, natsx.CounterDurable(o.c.Durable, o.p))
	if err != nil {
		return 0, fmt.Errorf("replaying %s: %w", natsx.StreamCounts, err)
	}
	info, err := durable.Info(sctx)
	if err != nil {
		return 0, fmt.Errorf("replaying %s: %w", natsx.StreamCounts, err)
	}
	return info.Delivered.Stream, nil
}

// replayConsumer creates the replay's consumer: the partition's messages after sequence after.
func (o *owner) replayConsumer(ctx context.Context, after uint64) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		FilterSubject:     natsx.CountsFilter(o.p),
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
		Replicas:          1,
	}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	sctx, cancel := o.step(ctx)
	defer cancel()
	return o.c.JS.CreateConsumer(sctx, natsx.StreamCounts, cfg)
}

// deleteConsumer deletes the replay's consumer in the background (the load does not wait for
// it), or leaves it to its inactive threshold.
func (o *owner) deleteConsumer(cons jetstream.Consumer) {
	name := cons.CachedInfo().Name
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = o.c.JS.DeleteConsumer(ctx, natsx.StreamCounts, name)
	}()
}

// nothingAfter reports whether the replay's consumer, as created, had no message to deliver.
func nothingAfter(cons jetstream.Consumer) bool {
	info := cons.CachedInfo()
	return info != nil && info.NumPending == 0 && info.Delivered.Consumer == 0
}
