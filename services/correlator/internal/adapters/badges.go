// Package adapters holds the correlator's outgoing side: the adjoin_badges bucket and the
// CORRELATED stream.
package adapters

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/adjoin/adjoin/pkg/counts"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// BadgeKV keeps per-entity counts in the adjoin_badges bucket.
//
// Why the counts are exact: the stored value is the set of alerts counted on the entity with
// the highest version applied (package counts), so applying an alert version is idempotent; and
// every write is conditional on the revision that was read (Create for a new key, Update with
// the last revision otherwise), so two correlators, or a correlator and its own redelivery,
// cannot overwrite each other's additions: the loser re-reads and re-applies. An alert is
// acknowledged only after its writes succeeded, so a crash at any instant either leaves the
// alert unacknowledged (redelivered, re-applied as a no-op where it had already landed) or
// fully applied.
type BadgeKV struct {
	KV jetstream.KeyValue
}

// maxRetries bounds the compare-and-set loop under contention; between attempts a writer
// backs off for a random time that grows with the attempt, so hot entities settle.
const maxRetries = 100

// Apply implements app.Counter.
func (b BadgeKV) Apply(ctx context.Context, key string, a *adjoinv1.Alert, links []string) (*adjoinv1.EntityCounts, bool, error) {
	for attempt := range maxRetries {
		ec, rev, err := b.Read(ctx, key)
		if err != nil {
			return nil, false, err
		}
		if !counts.Apply(ec, a, links...) {
			return ec, false, nil
		}
		ec.UpdatedTime = timestamppb.Now()
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(ec)
		if err != nil {
			return nil, false, err
		}
		if rev == 0 {
			_, err = b.KV.Create(ctx, key, data)
		} else {
			_, err = b.KV.Update(ctx, key, data, rev)
		}
		if err == nil {
			return ec, true, nil
		}
		if !isConflict(err) {
			return nil, false, fmt.Errorf("write counts of %s: %w", key, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, false, err
		}
	}
	return nil, false, fmt.Errorf("write counts of %s: still conflicting after %d attempts", key, maxRetries)
}

// backoff waits up to (attempt+1) ms, capped at 20 ms, at random.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(min(attempt+1, 20)) * int64(time.Millisecond)))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// Read returns the counts stored under key (empty when there are none) and their revision.
func (b BadgeKV) Read(ctx context.Context, key string) (*adjoinv1.EntityCounts, uint64, error) {
	ec := &adjoinv1.EntityCounts{EntityKey: key}
	entry, err := b.KV.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return ec, 0, nil
	case err != nil:
		return nil, 0, fmt.Errorf("read counts of %s: %w", key, err)
	}
	if err := natsx.Decode(nil, entry.Value(), ec); err != nil {
		return nil, 0, fmt.Errorf("stored counts of %s: %w", key, err)
	}
	return ec, entry.Revision(), nil
}

func isConflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
