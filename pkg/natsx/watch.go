package natsx

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Follow applies every entry of a KV bucket, the ones stored now and every later change, until
// ctx ends. It returns once the stored entries were applied, so a caller never serves from a
// half-loaded copy.
func Follow(ctx context.Context, kv jetstream.KeyValue, apply func(jetstream.KeyValueEntry)) error {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch %s: %w", kv.Bucket(), err)
	}
	return follow(ctx, kv, w, apply)
}

// Deleted reports whether a KV entry marks a deletion.
func Deleted(e jetstream.KeyValueEntry) bool {
	return e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge
}
