// Package adapters holds the correlator's outgoing side: the COUNTS and CORRELATED streams,
// and the adjoin_pending and adjoin_incidents buckets.
package adapters

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
	"github.com/adjoin/adjoin/services/correlator/internal/wire"
)

// Correlated publishes the correlator's messages (COUNTS, and CORRELATED for alerts that
// joined no entity).
type Correlated struct {
	JS jetstream.JetStream
}

var _ app.Publisher = Correlated{}

// Publish implements app.Publisher: every message is published without waiting, then every
// acknowledgement is awaited. An alert is marshalled once whatever its entities, and not at
// all when its publications carry it as received.
func (p Correlated) Publish(ctx context.Context, pubs []app.Publication) error {
	b := natsx.NewBatchContext(ctx, p.JS)
	var last *adjoinv1.Alert // publications of one alert come together
	var alert []byte
	for _, pub := range pubs {
		if a := pub.Msg.GetAlert(); a != last || alert == nil {
			var err error
			if alert, err = encodedAlert(pub); err != nil {
				return err
			}
			last = a
		}
		data, err := wire.Correlated(alert, pub.Msg)
		if err != nil {
			return err
		}
		if err := b.Add(wire.Msg(pub.Subject, pub.ID, data)); err != nil {
			// Those already added may be stored: wait for them so none is left in flight.
			_, _ = b.Wait(ctx)
			return err
		}
	}
	_, err := b.Wait(ctx)
	return err
}

// encodedAlert is the alert field of pub's message: the alert as received, else marshalled.
func encodedAlert(pub app.Publication) ([]byte, error) {
	if pub.AlertData != nil {
		return wire.AlertField(pub.AlertData), nil
	}
	return wire.Alert(pub.Msg.GetAlert())
}
