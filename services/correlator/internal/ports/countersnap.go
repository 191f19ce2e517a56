package ports

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/counts"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// snapMagic starts every snapshot object; a change of layout changes it.
const snapMagic = "ADJCNT01"

// snapHeader is what precedes the ledger in a snapshot: magic, partitions, partition, and the
// last COUNTS sequence folded into the ledger.
const snapHeaderLen = len(snapMagic) + 4 + 4 + 8

// SnapshotName is the adjoin_counter object holding partition p's state.
func SnapshotName(p int) string { return "p" + strconv.Itoa(p) }

// snapshot writes the state after a batch when it is due (always when now is set) and every
// record is stored: a snapshot must never hold a fold whose record is not written, since a
// new owner would not know to write it. Before writing, the state is compacted (see
// counts.Ledger.Compact: counts and records do not change).
func (o *owner) snapshot(ctx context.Context, now bool) {
	if !o.owned() {
		return
	}
	o.reportUnheld()
	if len(o.dirty) > 0 || o.sinceSnap == 0 {
		return
	}
	if !now && time.Since(o.lastSnap) < o.c.SnapshotEvery && o.sinceSnap < o.c.SnapshotFolds {
		return
	}
	start := time.Now()
	compacted := o.ledger.Compact(start.Add(-o.c.StateRetention), start.Add(-2*o.c.StateRetention))
	// Go maps keep their size after deletes: a load that dirtied the whole partition would
	// leave a map of its size for good.
	o.dirty = map[string]struct{}{}
	size, err := o.writeSnapshot(ctx, o.ledger, o.lastSeq)
	if err != nil {
		o.log.Warn("writing the partition snapshot failed; will retry after the next batch", logx.Err(err))
		return
	}
	entities, alerts := o.ledger.Len()
	o.log.Debug("partition snapshot written", zap.Uint64("last_sequence", o.lastSeq), zap.Int("folded", o.sinceSnap),
		zap.Int("entities", entities), zap.Int("alerts", alerts), zap.Int("tombstoned", compacted.Tombstoned),
		zap.Int("forgotten", compacted.Forgotten), zap.Int("emptied", compacted.Emptied),
		zap.Int64("bytes", size), zap.Duration("took", time.Since(start)))
	o.lastSnap, o.sinceSnap = time.Now(), 0
	if m := o.c.Metrics; m != nil {
		m.CounterSnapshots.Inc()
		m.CounterHeld.Add(float64(alerts - o.heldReported))
	}
	o.heldReported = alerts
}

// reportUnheld says, in the log (at most once a minute) and the metrics, that the partition's
// state is at its cap and alerts were counted without their state since the last report.
func (o *owner) reportUnheld() {
	u := o.ledger.Unheld()
	if u <= o.unheldReported {
		return
	}
	if m := o.c.Metrics; m != nil {
		m.CounterUnheld.Add(float64(u - o.unheldReported))
	}
	if time.Since(o.unheldWarned) >= time.Minute {
		_, held := o.ledger.Len()
		o.log.Warn("partition state at its cap (--max-held): new alerts are counted without their state; a later version of one that has left its entity's recent alerts counts it again, and its close does not leave the open count",
			zap.Int("held", held), zap.Int("max_held", o.c.MaxHeld), zap.Uint64("unheld_since_load", u))
		o.unheldWarned = time.Now()
	}
	o.unheldReported = u
}

func (o *owner) snapshots(ctx context.Context) (jetstream.ObjectStore, error) {
	if o.snaps == nil {
		s, err := o.c.JS.ObjectStore(ctx, natsx.BucketCounter)
		if err != nil {
			return nil, fmt.Errorf("object store %s: %w", natsx.BucketCounter, err)
		}
		o.snaps = s
	}
	return o.snaps, nil
}

// writeSnapshot stores l and seq, the last COUNTS sequence folded into it, as object p<p>,
// streamed.
//
// The write may take long for a large state, but never stands still for longer than the
// load's stall bound: a chunk's acknowledgement that never comes (a leader change) fails it.
func (o *owner) writeSnapshot(ctx context.Context, l *counts.Ledger, seq uint64) (int64, error) {
	ctx, moved, cancel := withStallGuard(ctx, o.c.loadStall())
	defer cancel()
	s, err := o.snapshots(ctx)
	if err != nil {
		return 0, err
	}
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 64<<10)
		var h [snapHeaderLen]byte
		copy(h[:], snapMagic)
		binary.BigEndian.PutUint32(h[8:], uint32(o.c.Partitions))
		binary.BigEndian.PutUint32(h[12:], uint32(o.p))
		binary.BigEndian.PutUint64(h[16:], seq)
		_, err := w.Write(h[:])
		if err == nil {
			_, err = l.WriteTo(w)
		}
		if err == nil {
			err = w.Flush()
		}
		pw.CloseWithError(err)
	}()
	info, err := s.Put(ctx, jetstream.ObjectMeta{Name: SnapshotName(o.p), Description: "partition owner state"}, movingReader{pr, moved})
	pr.CloseWithError(errors.New("snapshot not read to its end")) // lets the writer end if Put stopped early
	if err != nil {
		return 0, fmt.Errorf("snapshot %s: %w", SnapshotName(o.p), err)
	}
	return int64(info.Size), nil
}

// snapshotReadRate is the slowest a snapshot is expected to read; with snapshotReadSlack it
// bounds the time one read may take.
const (
	snapshotReadRate  = 2 << 20 // bytes per second
	snapshotReadSlack = 10 * time.Second
)

// readSnapshot loads object p<p> into l and returns the last sequence it holds; found is false
// when there is no snapshot.
//
// The object's reader waits for each chunk until its context's deadline, and a chunk never
// comes when the object is replaced mid-read (a snapshot of the owner that just lost the
// partition) or the connection closes: the read gets a deadline from the object's size, and
// when ctx ends first (a stop) readSnapshot returns at once, the read ending on its own.
func (o *owner) readSnapshot(ctx context.Context, l *counts.Ledger) (seq uint64, found bool, err error) {
	sctx, scancel := o.step(ctx)
	s, err := o.snapshots(sctx)
	if err != nil {
		scancel()
		return 0, false, err
	}
	info, err := s.GetInfo(sctx, SnapshotName(o.p))
	scancel()
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("snapshot %s: %w", SnapshotName(o.p), err)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), snapshotReadSlack+time.Duration(info.Size/snapshotReadRate)*time.Second)
	type result struct {
		seq   uint64
		found bool
		err   error
	}
	done := make(chan result, 1)
	go func() {
		defer cancel()
		var r result
		r.seq, r.found, r.err = o.readSnapshotObject(rctx, s, l)
		done <- r
	}()
	select {
	case r := <-done:
		return r.seq, r.found, r.err
	case <-ctx.Done():
		return 0, false, fmt.Errorf("snapshot %s: %w", SnapshotName(o.p), ctx.Err())
	}
}

// readSnapshotObject reads object p<p> into l (see readSnapshot).
func (o *owner) readSnapshotObject(ctx context.Context, s jetstream.ObjectStore, l *counts.Ledger) (seq uint64, found bool, err error) {
	r, err := s.Get(ctx, SnapshotName(o.p))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("snapshot %s: %w", SnapshotName(o.p), err)
	}
	defer r.Close() //nolint:errcheck // read-only
	br := bufio.NewReaderSize(r, 64<<10)
	var h [snapHeaderLen]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, false, fmt.Errorf("snapshot %s: header: %w", SnapshotName(o.p), err)
	}
	if string(h[:8]) != snapMagic {
		return 0, false, fmt.Errorf("snapshot %s: not a partition snapshot (%q)", SnapshotName(o.p), h[:8])
	}
	if n, p := binary.BigEndian.Uint32(h[8:]), binary.BigEndian.Uint32(h[12:]); int(n) != o.c.Partitions || int(p) != o.p {
		return 0, false, fmt.Errorf("snapshot %s: written for partition %d of %d, this is %d of %d (changing the partition count is not supported)",
			SnapshotName(o.p), p, n, o.p, o.c.Partitions)
	}
	if _, err := l.ReadFrom(br); err != nil {
		return 0, false, fmt.Errorf("snapshot %s: %w", SnapshotName(o.p), err)
	}
	return binary.BigEndian.Uint64(h[16:]), true, nil
}

// withStallGuard returns a context that ends when the returned moved has not been called for
// d: a long operation bounded by its progress rather than by its total time.
func withStallGuard(ctx context.Context, d time.Duration) (context.Context, func(), context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	t := time.AfterFunc(d, cancel)
	return ctx, func() { t.Reset(d) }, func() { t.Stop(); cancel() }
}

// movingReader calls moved on every read.
type movingReader struct {
	r     io.Reader
	moved func()
}

func (m movingReader) Read(p []byte) (int, error) {
	m.moved()
	return m.r.Read(p)
}
