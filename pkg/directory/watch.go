package directory

import (
	"context"
	"errors"
	"fmt"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Follow loads every entity of the directory bucket into ix and keeps it up to date until ctx
// ends. It returns once the initial load is complete, so a caller never resolves against a
// half-loaded directory; updates keep arriving in the background.
func (ix *Index) Follow(ctx context.Context, kv jetstream.KeyValue, log *zap.Logger) error {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch %s: %w", natsx.BucketDirectory, err)
	}
	loaded := make(chan struct{})
	go func() {
		defer w.Stop() //nolint:errcheck // nothing to do on a failed stop at shutdown
		initial := true
		for entry := range w.Updates() {
			if entry == nil {
				if initial {
					initial = false
					close(loaded)
				}
				continue
			}
			ix.apply(entry, log)
		}
		if initial {
			close(loaded)
		}
	}()
	select {
	case <-loaded:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("loading directory: %w", ctx.Err())
	}
}

func (ix *Index) apply(entry jetstream.KeyValueEntry, log *zap.Logger) {
	switch entry.Operation() {
	case jetstream.KeyValueDelete, jetstream.KeyValuePurge:
		ix.Delete(entry.Key())
	default:
		var e adjoinv1.Entity
		if err := natsx.Decode(nil, entry.Value(), &e); err != nil {
			log.Error("skipping undecodable directory entry", zap.String("entity", entry.Key()), zap.Error(err))
			return
		}
		ix.Put(&e)
	}
	if ix.OnChange != nil {
		ix.OnChange(entry.Key())
	}
}

// ErrInvalidSelector means a selector is empty or malformed.
var ErrInvalidSelector = errors.New("invalid entity selector")
