package directory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// snapshotWriteTimeout bounds one snapshot's write.
const snapshotWriteTimeout = 10 * time.Minute

// SnapshotInfo describes a snapshot written.
type SnapshotInfo struct {
	Seq     uint64 // the stream sequence the entries are consistent with
	Entries uint64
	Bytes   uint64
}

// WriteSnapshot stores the entries of kv, the directory bucket, in s as one snapshot,
// replacing the previous one. It reads the bucket with its own watcher (as a reader's full
// load does) and stores what it reads in parts as it goes (snapshotparts.go).
//
// The snapshot is consistent with the stream's last sequence L read before the watcher starts:
// the watcher delivers the last entry of every key as of its start, and the entries past L it
// delivers before the end of that first pass are left out. A key changed after L may then miss
// from the snapshot or hold its older value, and a reader following the bucket from L+1 gets
// its change: applied in order, snapshot and follow give the bucket's state.
func WriteSnapshot(ctx context.Context, kv jetstream.KeyValue, s jetstream.ObjectStore) (SnapshotInfo, error) {
	st, err := kv.Status(ctx)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("bucket %s: %w", kv.Bucket(), err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return SnapshotInfo{}, fmt.Errorf("bucket %s: no stream info", kv.Bucket())
	}
	si := bs.StreamInfo()
	head := snapshotHead{streamCreated: si.Created, seq: si.State.LastSeq}
	// A deadline for the whole write: without one, the object store gives each chunk's
	// acknowledgement the default 5 s, which a synced server can exceed with hundreds of
	// megabytes in flight.
	ctx, cancelAll := context.WithTimeout(ctx, snapshotWriteTimeout)
	defer cancelAll()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := kv.WatchAll(wctx)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("watch %s: %w", kv.Bucket(), err)
	}
	defer w.Stop() //nolint:errcheck // nothing to do on a failed stop

	pw := newPartWriter(ctx, s)
	n, err := encodeSnapshot(wctx, pw, head, w.Updates())
	if err == nil {
		err = pw.commit()
	}
	if err != nil {
		pw.abort()
		return SnapshotInfo{}, fmt.Errorf("snapshot of %s: %w", kv.Bucket(), err)
	}
	return SnapshotInfo{Seq: head.seq, Entries: n, Bytes: pw.size}, nil
}

// encodeSnapshot writes the watcher's first pass, up to head.seq, onto w.
func encodeSnapshot(ctx context.Context, w io.Writer, head snapshotHead, updates <-chan jetstream.KeyValueEntry) (uint64, error) {
	sw, err := newSnapshotWriter(w, head)
	if err != nil {
		return 0, err
	}
	for {
		select {
		case <-ctx.Done():
			return sw.n, ctx.Err()
		case e, ok := <-updates:
			if !ok {
				return sw.n, errors.New("watcher stopped before its first pass ended")
			}
			if e == nil {
				return sw.n, sw.close()
			}
			if e.Revision() > head.seq {
				continue
			}
			if err := sw.add(snapOp(e.Operation()), e.Revision(), e.Key(), e.Value()); err != nil {
				return sw.n, err
			}
		}
	}
}
