package natsx

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Setup connects, opens JetStream and returns once the topology exists (Ensure): a service
// creates what is missing when its NATS user may, and otherwise waits for the admin to run
// `adjoin provision`. Services never change an existing stream or bucket.
func Setup(ctx context.Context, o ConnectOptions, replicas int, log *zap.Logger) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := Connect(ctx, o, log)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096), jetstream.WithPublishAsyncTimeout(30*time.Second))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := Ensure(ctx, nc, js, NewTopology(replicas), log.With(zap.String("nats_user", o.User))); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// Ready is the readiness check of a service: connected, and every stream and bucket present.
func Ready(nc *nats.Conn, js jetstream.JetStream, replicas int) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if !nc.IsConnected() {
			return fmt.Errorf("nats not connected (status %s)", nc.Status())
		}
		return Check(ctx, js, NewTopology(replicas))
	}
}
