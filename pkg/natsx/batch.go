package natsx

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Batch publishes messages asynchronously and waits for every acknowledgement, so a caller can
// acknowledge its own sender only once all of them are stored.
type Batch struct {
	js      jetstream.JetStream
	pending []pendingPub
}

type pendingPub struct {
	subject, id string
	future      jetstream.PubAckFuture
}

// NewBatch starts an empty batch on js.
func NewBatch(js jetstream.JetStream) *Batch { return &Batch{js: js} }

// Add publishes msg without waiting. It blocks only when the client's async window is full.
func (b *Batch) Add(msg *nats.Msg) error {
	f, err := b.js.PublishMsgAsync(msg)
	if err != nil {
		return fmt.Errorf("publish %s: %w", msg.Subject, err)
	}
	b.pending = append(b.pending, pendingPub{subject: msg.Subject, id: msg.Header.Get(jetstream.MsgIDHeader), future: f})
	return nil
}

// Len is the number of messages added.
func (b *Batch) Len() int { return len(b.pending) }

// Wait returns nil once every message was acknowledged, or the first error. It counts
// deduplicated publishes (already stored earlier) as acknowledged.
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
	b.pending = b.pending[:0]
	return duplicates, nil
}
