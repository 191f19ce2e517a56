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
// half-loaded directory; updates keep arriving in the background.
func (ix *Index) Follow(ctx context.Context, kv jetstream.KeyValue, log *zap.Logger) error {
	if st, err := kv.Status(ctx); err == nil {
		ix.grow(int(min(st.Values(), 1<<26))) // sized from the bucket, not grown entity by entity
	}
	ix.beginBulk()
	err := natsx.Follow(ctx, kv, func(e jetstream.KeyValueEntry) { ix.apply(e, log) })
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
	stop, err = natsx.Resume(ctx, nc, func(wctx context.Context) error { return ix.Follow(wctx, kv, log) }, log)
	return ix, stop, err
}

func (ix *Index) apply(entry jetstream.KeyValueEntry, log *zap.Logger) {
	switch {
	case natsx.Deleted(entry):
		ix.Delete(entry.Key())
	default:
		if err := ix.putBytes(entry.Value()); err != nil {
			msg := "skipping undecodable directory entry"
			if errors.Is(err, ErrFull) {
				msg = "directory index full: entry not loaded, its previous version (if any) still served"
			}
			log.Error(msg, zap.String("entity", entry.Key()), logx.Err(err))
			return
		}
	}
	if ix.OnChange != nil {
		ix.OnChange(entry.Key())
	}
}

// ErrInvalidSelector means a selector is empty or malformed.
var ErrInvalidSelector = errors.New("invalid entity selector")
