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

// seedStall bounds each wait of a seed: for the watcher to start, then for each next record.
// Unbounded, a watcher a cluster's leader change left without its consumer (seen in chaos
// scenario 3: stuck in the creation request) would hold the batch and the partition's pin
// for loadTimeout; failed, the load is tried again with the batch's next delivery.
const seedStall = 10 * time.Second

// seed loads the partition's adjoin_badges records into l: a format-1 record converts
// exactly and is written again in the new format; a format-2 one gives counters only.
func (o *owner) seed(ctx context.Context, l *counts.Ledger) (seeded, inexact int, err error) {
	kv, err := o.badgesKV(ctx)
	if err != nil {
		return 0, 0, err
	}
	// Creating the watcher's consumer is a request that a cluster's leader change can leave
	// unanswered: it gets seedStall, not the whole load's deadline.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	unanswered := time.AfterFunc(seedStall, cancel)
	w, err := kv.WatchAll(wctx, jetstream.IgnoreDeletes())
	unanswered.Stop()
	if err != nil {
		return 0, 0, fmt.Errorf("reading %s: %w", natsx.BucketBadges, err)
	}
	defer w.Stop() //nolint:errcheck // nothing to do about it
	stall := time.NewTimer(seedStall)
	defer stall.Stop()
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("reading %s: %w", natsx.BucketBadges, ctx.Err())
		case <-stall.C:
			return 0, 0, fmt.Errorf("reading %s: nothing delivered for %s after %d records", natsx.BucketBadges, seedStall, seeded)
		case e = <-w.Updates():
		}
		stall.Reset(seedStall)
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
// An empty fetch is not the end: a consumer leader moving in a cluster, or a loaded server,
// answers nothing for a while. Only reaching the target (or the stream having nothing more for
// the partition) ends the replay; no progress for seedStall fails the load, which is retried.
// Ending early would leave acknowledged messages out of the state, and the next records written
// from it would count less than before (seen in chaos scenarios 3 and 7 under load).
func (o *owner) replay(ctx context.Context, l *counts.Ledger, after uint64) (last uint64, n int, err error) {
	durable, err := o.c.JS.Consumer(ctx, natsx.StreamCounts, natsx.CounterDurable(o.c.Durable, o.p))
	if err != nil {
		return 0, 0, fmt.Errorf("replaying %s: %w", natsx.StreamCounts, err)
	}
	info, err := durable.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("replaying %s: %w", natsx.StreamCounts, err)
	}
	target := info.Delivered.Stream
	if target <= after {
		return 0, 0, nil
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{natsx.CountsFilter(o.p)},
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: time.Minute,
	}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	cons, err := o.c.JS.OrderedConsumer(ctx, natsx.StreamCounts, cfg)
	if err != nil {
		return 0, 0, fmt.Errorf("replaying %s: %w", natsx.StreamCounts, err)
	}
	progress := time.Now()
	for {
		batch, err := cons.Fetch(replayBatch, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			return 0, 0, fmt.Errorf("replaying %s: %w", natsx.StreamCounts, err)
		}
		got, done := 0, false
		for m := range batch.Messages() {
			got++
			n++
			meta, err := m.Metadata()
			if err != nil {
				continue
			}
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
		case time.Since(progress) > seedStall:
			return 0, 0, fmt.Errorf("replaying %s: nothing delivered for %s at sequence %d of %d", natsx.StreamCounts, seedStall, last, target)
		}
	}
}

// nothingAfter reports whether the replay's consumer, as created, had no message to deliver.
func nothingAfter(cons jetstream.Consumer) bool {
	info := cons.CachedInfo()
	return info != nil && info.NumPending == 0 && info.Delivered.Consumer == 0
}
