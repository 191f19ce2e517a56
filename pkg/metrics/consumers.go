package metrics

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Consumer names a durable consumer on a stream.
type Consumer struct{ Stream, Name string }

// PollConsumers sets the consumer gauges of service from JetStream every period until ctx ends.
// A consumer not created yet is skipped until it exists.
func (m *Metrics) PollConsumers(ctx context.Context, js jetstream.JetStream, service string, period time.Duration, consumers ...Consumer) {
	if m == nil {
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		for _, c := range consumers {
			cons, err := js.Consumer(ctx, c.Stream, c.Name)
			if err != nil {
				continue
			}
			info, err := cons.Info(ctx)
			if err != nil {
				continue
			}
			m.ConsumerPending.WithLabelValues(service, c.Name).Set(float64(info.NumPending))
			m.ConsumerAckPending.WithLabelValues(service, c.Name).Set(float64(info.NumAckPending))
			m.ConsumerRedelivered.WithLabelValues(service, c.Name).Set(float64(info.NumRedelivered))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
