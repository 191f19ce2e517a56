package adapters

import (
	"context"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
	"github.com/nats-io/nats.go/jetstream"
)

// Correlated publishes on the CORRELATED stream.
type Correlated struct {
	JS jetstream.JetStream
}

var _ app.Publisher = Correlated{}

// PublishCorrelated implements app.Publisher; it returns once JetStream stored the message.
func (p Correlated) PublishCorrelated(ctx context.Context, subject, id string, c *adjoinv1.CorrelatedAlert) error {
	_, err := natsx.Publish(ctx, p.JS, subject, id, c)
	return err
}
