package natsx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Batch publishes messages asynchronously and waits for every acknowledgement, so a caller can
// acknowledge its own sender only once all of them are stored.
type Batch struct {
	js      jetstream.JetStream
	ctx     context.Context // nil: Add fails as soon as the async window stays full
	pending []pendingPub
	// ids are the Nats-Msg-Id values pending: a message repeating one is a duplicate already on
	// its way, so it is not published again (a body of a million identical lines costs one
	// publish per flush, not a million), only counted by Wait.
	ids      map[string]struct{}
	repeated int
}

type pendingPub struct {
	subject, id string
	future      jetstream.PubAckFuture
}

// maxStall bounds how long Add waits for a slot in a full async window: as long as the client
// waits for an acknowledgement (the publish async timeout of Setup), so a window that frees
// nothing for that long means JetStream is stuck, not busy.
const maxStall = 30 * time.Second

// NewBatch starts an empty batch on js.
func NewBatch(js jetstream.JetStream) *Batch { return &Batch{js: js} }

// NewBatchContext starts an empty batch whose Add outlasts a full async window until ctx ends
// (or maxStall passes without a free slot). The window is shared by everyone on the
// connection: a request that finds it full because of another request's publishes is not at
// fault, and must not fail after the client's stall wait (200 ms).
func NewBatchContext(ctx context.Context, js jetstream.JetStream) *Batch {
	return &Batch{js: js, ctx: ctx}
}

// Add publishes msg without waiting. It blocks only when the client's async window is full.
// A message with the Nats-Msg-Id of one pending in the batch is not published again: Wait
// counts it as a duplicate, as the stream would have.
func (b *Batch) Add(msg *nats.Msg) error {
	id := msg.Header.Get(jetstream.MsgIDHeader)
	if _, ok := b.ids[id]; ok && id != "" {
		b.repeated++
		return nil
	}
	var stalled time.Time
	for {
		f, err := b.js.PublishMsgAsync(msg)
		if err == nil {
			b.pending = append(b.pending, pendingPub{subject: msg.Subject, id: id, future: f})
			if id != "" {
				if b.ids == nil {
					b.ids = map[string]struct{}{}
				}
				b.ids[id] = struct{}{}
			}
			return nil
		}
		if b.ctx == nil || !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return fmt.Errorf("publish %s: %w", msg.Subject, err)
		}
		if stalled.IsZero() {
			stalled = time.Now()
		}
		if b.ctx.Err() != nil {
			return fmt.Errorf("publish %s: %w (%w)", msg.Subject, err, context.Cause(b.ctx))
		}
		if time.Since(stalled) > maxStall {
			return fmt.Errorf("publish %s: %w: no slot freed for %s", msg.Subject, err, maxStall)
		}
	}
}

// Len is the number of messages added since the last Wait, repeats included.
func (b *Batch) Len() int { return len(b.pending) + b.repeated }

// Wait returns nil once every message was acknowledged, or the first error. It counts
// deduplicated publishes (already stored earlier) as acknowledged, and as duplicates with the
// repeats Add did not publish.
func (b *Batch) Wait(ctx context.Context) (duplicates int, err error) {
	for _, p := range b.pending {
		select {
		case ack := <-p.future.Ok():
			if ack.Duplicate {
				duplicates++
			}
		case err := <-p.future.Err():
			return duplicates, fmt.Errorf("publish %s id %s: %w", p.subject, p.id, err)
		case <-ctx.Done():
			return duplicates, fmt.Errorf("waiting for acknowledgement of %s id %s: %w", p.subject, p.id, ctx.Err())
		}
	}
	duplicates += b.repeated
	b.pending, b.ids, b.repeated = b.pending[:0], nil, 0
	return duplicates, nil
}
