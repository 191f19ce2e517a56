package directory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/logx"
)

// snapshotReadRate is the slowest a snapshot is expected to read; with snapshotReadSlack it
// bounds the time the read may take before the full load is used instead.
const (
	snapshotReadRate  = 4 << 20 // bytes per second
	snapshotReadSlack = 10 * time.Second
)

// loadSnapshot loads the latest usable snapshot of Snapshots into the empty index and returns
// the sequence it is consistent with. ok is false, and the index empty, when there is none or
// it cannot be used (written for another stream, older than what the stream still holds, of an
// unknown format, corrupt, or slower to read than snapshotReadRate): the caller then loads the
// bucket in full.
func (ix *Index) loadSnapshot(ctx context.Context, kv jetstream.KeyValue, si *jetstream.StreamInfo, log *zap.Logger) (seq uint64, ok bool) {
	if ix.Snapshots == nil || si == nil || ix.Len() > 0 {
		return 0, false
	}
	start := time.Now()
	m, err := readManifest(ctx, ix.Snapshots)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return 0, false
	}
	if err != nil {
		log.Warn("directory snapshot not used; loading the bucket in full", logx.Err(err))
		return 0, false
	}
	rctx, cancel := context.WithTimeout(ctx, snapshotReadSlack+time.Duration(m.size/snapshotReadRate)*time.Second)
	defer cancel()
	l := startLoader(ix, log)
	head, n, err := ix.readSnapshot(rctx, kv.Bucket(), m, si, l)
	l.finish()
	if err != nil {
		ix.reset()
		log.Warn("directory snapshot not used; loading the bucket in full", zap.Uint64("snapshot_sequence", head.seq),
			zap.Uint64("stream_first_sequence", si.State.FirstSeq), zap.Uint64("stream_last_sequence", si.State.LastSeq), logx.Err(err))
		return 0, false
	}
	log.Info("directory snapshot loaded", zap.Uint64("sequence", head.seq), zap.Uint64("entries", n),
		zap.Uint64("bytes", m.size), zap.Int("parts", len(m.parts)), zap.Duration("took", time.Since(start)))
	return head.seq, true
}

// readSnapshot checks the snapshot against the bucket's stream and hands its entries to l.
func (ix *Index) readSnapshot(ctx context.Context, bucket string, m manifest, si *jetstream.StreamInfo, l *loader) (snapshotHead, uint64, error) {
	r := &partsReader{ctx: ctx, store: ix.Snapshots, parts: m.parts}
	defer r.Close() //nolint:errcheck // read-only
	s, head, err := newSnapshotReader(r, bucket)
	if err != nil {
		return head, 0, err
	}
	if err := usable(head, si); err != nil {
		return head, 0, err
	}
	for {
		e, err := s.next()
		if err != nil {
			return head, s.n, err
		}
		if e == nil {
			break
		}
		l.apply(e)
	}
	// Reading to the last part's end checks its digest (each part's is checked at its end).
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		return head, s.n, fmt.Errorf("%w: after the end record: %v", errSnapshot, err)
	}
	return head, s.n, nil
}

// usable says why a snapshot with head cannot stand for the stream described by si, if it
// cannot: written for an earlier incarnation of the bucket, ahead of it, or older than every
// message the stream still holds (it was purged since, and deletes may be gone with it).
func usable(head snapshotHead, si *jetstream.StreamInfo) error {
	switch {
	case !head.streamCreated.Equal(si.Created):
		return fmt.Errorf("%w: written for a stream created %s, this one was created %s", errSnapshot, head.streamCreated.UTC(), si.Created.UTC())
	case head.seq > si.State.LastSeq:
		return fmt.Errorf("%w: at sequence %d, past the stream's last %d", errSnapshot, head.seq, si.State.LastSeq)
	case head.seq < si.State.FirstSeq:
		// Either the stream was purged since (an empty stream's first sequence is its last
		// plus one), or every entry of the snapshot was rewritten since: it is of no use.
		return fmt.Errorf("%w: at sequence %d, before the stream's first %d (purged since)", errSnapshot, head.seq, si.State.FirstSeq)
	}
	return nil
}

// reset empties the index after a snapshot that could not be loaded to its end.
func (ix *Index) reset() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.recs, ix.free, ix.arena = ix.recs[:0], nil, ix.arena[:0]
	ix.garbage, ix.live = 0, 0
	ix.strs = newInterner()
	ix.names = newNameTable(ix.names.seed, 0)
	ix.byKind = map[adjoinv1.EntityKind]int{}
	ix.domains = nil
	ix.pending = ix.pending[:0]
	ix.hasPending.Store(false)
	ix.version++
}
