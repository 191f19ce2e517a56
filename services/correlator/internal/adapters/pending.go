package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
)

// PendingKV keeps alerts with references that did not resolve yet in the adjoin_pending bucket
// (keys expire after the bucket's TTL), so a later directory sync or logon can still place them.
type PendingKV struct {
	KV jetstream.KeyValue
}

// Put keeps the alert pending under its id, merged with the version already pending there
// (domain.MergePending), with a compare-and-set so two correlators merging at once lose
// nothing.
func (p PendingKV) Put(ctx context.Context, a *adjoinv1.Alert) error {
	for attempt := range maxRetries {
		prev, rev, found, err := p.Get(ctx, a.GetId())
		if err != nil {
			return err
		}
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(domain.MergePending(prev, a))
		if err != nil {
			return err
		}
		if found {
			_, err = p.KV.Update(ctx, a.GetId(), data, rev)
		} else {
			_, err = p.KV.Create(ctx, a.GetId(), data)
		}
		if err == nil {
			return nil
		}
		if !isConflict(err) {
			return fmt.Errorf("pending %s: %w", a.GetId(), err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
	return fmt.Errorf("pending %s: still conflicting after %d attempts", a.GetId(), maxRetries)
}

// IDs lists the pending alert ids.
func (p PendingKV) IDs(ctx context.Context) ([]string, error) {
	lister, err := p.KV.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list pending: %w", err)
	}
	var ids []string
	for k := range lister.Keys() {
		ids = append(ids, k)
	}
	return ids, nil
}

// Get returns a pending alert and the revision it was read at.
func (p PendingKV) Get(ctx context.Context, id string) (*adjoinv1.Alert, uint64, bool, error) {
	e, err := p.KV.Get(ctx, id)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, 0, false, nil
	case err != nil:
		return nil, 0, false, fmt.Errorf("pending %s: %w", id, err)
	}
	var a adjoinv1.Alert
	if err := natsx.Decode(nil, e.Value(), &a); err != nil {
		return nil, 0, false, fmt.Errorf("pending %s: %w", id, err)
	}
	return &a, e.Revision(), true, nil
}

// Done removes a pending alert, unless it was replaced since revision rev (a newer version
// stays pending).
func (p PendingKV) Done(ctx context.Context, id string, rev uint64) error {
	err := p.KV.Delete(ctx, id, jetstream.LastRevision(rev))
	if err != nil && !isConflict(err) {
		return fmt.Errorf("pending %s: %w", id, err)
	}
	return nil
}
