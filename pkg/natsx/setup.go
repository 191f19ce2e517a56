package natsx

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Setup connects, opens JetStream and provisions the topology, as every service does on start.
// Provisioning is idempotent, so whichever service starts first creates what is missing.
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
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := Provision(pctx, js, NewTopology(replicas)); err != nil {
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
