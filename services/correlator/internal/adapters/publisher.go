// Package adapters holds the correlator's outgoing side: the COUNTS and CORRELATED streams,
// and the adjoin_pending and adjoin_incidents buckets.
package adapters

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
)

// Correlated publishes the correlator's messages (COUNTS, and CORRELATED for alerts that
// joined no entity).
type Correlated struct {
	JS jetstream.JetStream
}

var _ app.Publisher = Correlated{}

// Publish implements app.Publisher: every message is published without waiting, then every
// acknowledgement is awaited.
func (p Correlated) Publish(ctx context.Context, pubs []app.Publication) error {
	b := natsx.NewBatchContext(ctx, p.JS)
	for _, pub := range pubs {
		msg, err := natsx.NewMsg(pub.Subject, pub.ID, pub.Msg)
		if err != nil {
			return err
		}
		if err := b.Add(msg); err != nil {
			// Those already added may be stored: wait for them so none is left in flight.
			_, _ = b.Wait(ctx)
			return err
		}
	}
	_, err := b.Wait(ctx)
	return err
}
