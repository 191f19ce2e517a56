package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ReadStream calls f on every message of stream on subject (a filter; "" is all), from the
// first to the last stored when it is called.
func ReadStream(ctx context.Context, js jetstream.JetStream, stream, subject string, f func(jetstream.Msg) error) error {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	var opts []jetstream.StreamInfoOpt
	if subject != "" {
		opts = append(opts, jetstream.WithSubjectFilter(subject))
	}
	info, err := st.Info(ctx, opts...)
	if err != nil {
		return err
	}
	total := info.State.Msgs
	if subject != "" {
		total = 0
		for _, n := range info.State.Subjects {
			total += n
		}
	}
	if total == 0 {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{}
	if subject != "" {
		cfg.FilterSubjects = []string{subject}
	}
	cons, err := st.OrderedConsumer(ctx, cfg)
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	for range total {
		m, err := it.Next()
		if err != nil {
			return err
		}
		if err := f(m); err != nil {
			return err
		}
	}
	return nil
}

// WaitDrained waits until the durable consumer on stream has nothing pending and nothing
// awaiting acknowledgement.
func WaitDrained(ctx context.Context, js jetstream.JetStream, stream, durable string) error {
	var last string
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := js.Consumer(cctx, stream, durable)
		if err == nil {
			var info *jetstream.ConsumerInfo
			if info, err = c.Info(cctx); err == nil {
				if info.NumPending == 0 && info.NumAckPending == 0 {
					cancel()
					return nil
				}
				last = fmt.Sprintf("%d pending, %d awaiting ack", info.NumPending, info.NumAckPending)
			}
		}
		cancel()
		if err != nil {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s consumer %s not drained: %s (%w)", stream, durable, last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
