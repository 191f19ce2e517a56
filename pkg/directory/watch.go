package directory

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// Follow loads every entity of the directory bucket into ix and keeps it up to date until ctx
// ends. It returns once the initial load is complete, so a caller never resolves against a
// half-loaded directory; updates keep arriving in the background. With Snapshots set, a first
// load reads the latest usable snapshot and follows the bucket from the sequence after it
// (snapshotload.go); otherwise, and on every later call, it reads the whole bucket.
func (ix *Index) Follow(ctx context.Context, kv jetstream.KeyValue, log *zap.Logger) error {
	size := 0
	var si *jetstream.StreamInfo
	if st, err := kv.Status(ctx); err == nil {
		size = int(min(st.Values(), 1<<26)) // sized from the bucket, not grown entity by entity
		if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
			si = bs.StreamInfo()
		}
	}
	ix.grow(size)
	ix.beginBulk()
	var opts []jetstream.WatchOpt
	if seq, ok := ix.loadSnapshot(ctx, kv, si, log); ok {
		opts = append(opts, jetstream.ResumeFromRevision(seq+1))
	} else {
		ix.grow(size) // again: a refused snapshot leaves an index with no room
	}
	l := startLoader(ix, log)
	err := natsx.Follow(ctx, kv, l.apply, opts...)
	l.finish()
	ix.endBulk()
	if err == nil && ix.Len() >= returnAfterLoad {
		// The load's garbage (a message and its copy per entity) would otherwise stay resident
		// as heap headroom: at 1M entities, a few hundred bytes per entity on top of the index.
		debug.FreeOSMemory()
	}
	return err
}

// returnAfterLoad is the directory size from which the memory freed by the initial load is
// handed back to the system at once.
const returnAfterLoad = 100_000

// Open opens the directory bucket and returns an index that follows it, loaded, and kept
// current across NATS reconnects (natsx.Resume). Call stop when done.
func Open(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, log *zap.Logger) (ix *Index, stop func(), err error) {
	kv, err := js.KeyValue(ctx, natsx.BucketDirectory)
	if err != nil {
		return nil, func() {}, fmt.Errorf("bucket %s: %w", natsx.BucketDirectory, err)
	}
	ix = NewIndex()
	ix.Snapshots = OpenSnapshots(ctx, js, log)
	stop, err = natsx.Resume(ctx, nc, func(wctx context.Context) error { return ix.Follow(wctx, kv, log) }, log)
	return ix, stop, err
}

// OpenSnapshots opens the directory snapshots' object store, or returns nil (the full load, as
// before snapshots) when it does not exist or cannot be opened, saying why in the log.
func OpenSnapshots(ctx context.Context, js jetstream.JetStream, log *zap.Logger) jetstream.ObjectStore {
	s, err := js.ObjectStore(ctx, natsx.BucketDirectorySnapshot)
	switch {
	case err == nil:
		return s
	case errors.Is(err, jetstream.ErrBucketNotFound):
		log.Info("no directory snapshots (object store not provisioned): loading the directory in full")
	default:
		log.Warn("directory snapshots not readable; loading the directory in full", logx.Err(err))
	}
	return nil
}

// apply applies one entry of the directory bucket as it arrives.
func (ix *Index) apply(entry jetstream.KeyValueEntry, log *zap.Logger) {
	deleted := natsx.Deleted(entry)
	var err error
	if !deleted {
		err = ix.putBytes(entry.Value())
	}
	ix.applied(entry.Key(), deleted, err, log)
}

// applyDecoded applies an entry the loader decoded: key and f are the entity's (decodeErr
// when its bytes were refused).
func (ix *Index) applyDecoded(entryKey string, deleted bool, key string, f *flat, decodeErr error, log *zap.Logger) {
	err := decodeErr
	if !deleted && err == nil {
		err = ix.putDecoded(key, f)
	}
	ix.applied(entryKey, deleted, err, log)
}

// applied finishes an entry: the delete done here, a refused entity logged and skipped, the
// change reported.
func (ix *Index) applied(entryKey string, deleted bool, err error, log *zap.Logger) {
	if deleted {
		ix.Delete(entryKey)
	}
	if err != nil {
		msg := "skipping undecodable directory entry"
		if errors.Is(err, ErrFull) {
			msg = "directory index full: entry not loaded, its previous version (if any) still served"
		}
		log.Error(msg, zap.String("entity", entryKey), logx.Err(err))
		return
	}
	if ix.OnChange != nil {
		ix.OnChange(entryKey)
	}
}

// ErrInvalidSelector means a selector is empty or malformed.
var ErrInvalidSelector = errors.New("invalid entity selector")
