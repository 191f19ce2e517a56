package bench

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
)

// kept are the buckets a history reset leaves as they are: the directory, its snapshot and
// the integration toggles. Everything else of the topology holds alerts or what follows from
// them.
var kept = map[string]bool{
	natsx.BucketDirectory:         true,
	natsx.BucketDirectorySnapshot: true,
	natsx.BucketConfig:            true,
}

// resetHistory deletes every stream and bucket of the topology but the kept ones, with their
// consumers, and provisions them again empty, while no service runs. Each measured step then
// starts from the same history, none, whatever step ran before it on this server: without it
// the largest size would also carry (and replay at start) the alerts of every smaller size.
func resetHistory(ctx context.Context, js jetstream.JetStream) error {
	t := natsx.NewTopology(1)
	for _, s := range t.Streams {
		if err := js.DeleteStream(ctx, s.Name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("reset history: stream %s: %w", s.Name, err)
		}
	}
	for _, b := range t.Buckets {
		if kept[b.Bucket] {
			continue
		}
		if err := js.DeleteKeyValue(ctx, b.Bucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			return fmt.Errorf("reset history: bucket %s: %w", b.Bucket, err)
		}
	}
	for _, o := range t.Objects {
		if kept[o.Bucket] {
			continue
		}
		if err := js.DeleteObjectStore(ctx, o.Bucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) &&
			!errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("reset history: object store %s: %w", o.Bucket, err)
		}
	}
	if err := natsx.Provision(ctx, js, t); err != nil {
		return fmt.Errorf("reset history: %w", err)
	}
	return nil
}
