package natsx

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Follow applies every entry of a KV bucket, the ones stored now and every later change, until
// ctx ends. It returns once the stored entries were applied, so a caller never serves from a
// half-loaded copy. opts are the watcher's (jetstream.ResumeFromRevision: from a sequence on).
func Follow(ctx context.Context, kv jetstream.KeyValue, apply func(jetstream.KeyValueEntry), opts ...jetstream.WatchOpt) error {
	w, err := kv.WatchAll(ctx, opts...)
	if err != nil {
		return fmt.Errorf("watch %s: %w", kv.Bucket(), err)
	}
	loaded := make(chan struct{})
	go func() {
		defer w.Stop() //nolint:errcheck // nothing to do on a failed stop at shutdown
		initial := true
		for e := range w.Updates() {
			if e == nil {
				if initial {
					initial = false
					close(loaded)
				}
				continue
			}
			apply(e)
		}
		if initial {
			close(loaded)
		}
	}()
	select {
	case <-loaded:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("loading %s: %w", kv.Bucket(), ctx.Err())
	}
}

// Deleted reports whether a KV entry marks a deletion.
func Deleted(e jetstream.KeyValueEntry) bool {
	return e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge
}
