package chaos

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
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

// Partitions returns the number of COUNTS partitions the correlator recorded in adjoin_config,
// waiting until it has been recorded (the correlator's first start).
func Partitions(ctx context.Context, js jetstream.JetStream) (int, error) {
	kv, err := js.KeyValue(ctx, natsx.BucketConfig)
	if err != nil {
		return 0, err
	}
	for {
		e, err := kv.Get(ctx, natsx.ConfigPartitionsKey)
		if err == nil {
			n, err := strconv.Atoi(strings.TrimSpace(string(e.Value())))
			if err != nil || n < 1 {
				return 0, fmt.Errorf("adjoin_config %s holds %q, not a number of partitions", natsx.ConfigPartitionsKey, e.Value())
			}
			return n, nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no %s in adjoin_config: the correlator never started (%w)", natsx.ConfigPartitionsKey, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// WaitCorrelated waits until the correlator whose ALERTS durable is durable has done all its
// work, both stages: ALERTS drained (every alert resolved, its count messages stored in
// COUNTS), then every COUNTS partition's consumer drained (every count folded, its correlated
// copy and record stored). It then checks that nothing is left behind: every COUNTS message is
// on a partition's subjects, and each partition consumer's acknowledgement floor is at the
// last message of its partition.
func WaitCorrelated(ctx context.Context, js jetstream.JetStream, durable string) error {
	if err := WaitDrained(ctx, js, natsx.StreamAlerts, durable); err != nil {
		return err
	}
	n, err := Partitions(ctx, js)
	if err != nil {
		return err
	}
	for p := range n {
		if err := WaitDrained(ctx, js, natsx.StreamCounts, natsx.CounterDurable(durable, p)); err != nil {
			return err
		}
	}
	return countsLeft(ctx, js, durable, n)
}

// countsLeft reports COUNTS messages outside the n partitions, or past a partition consumer's
// acknowledgement floor.
func countsLeft(ctx context.Context, js jetstream.JetStream, durable string, n int) error {
	st, err := js.Stream(ctx, natsx.StreamCounts)
	if err != nil {
		return err
	}
	all, err := st.Info(ctx)
	if err != nil {
		return err
	}
	var inPartitions uint64
	for p := range n {
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(natsx.CountsFilter(p)))
		if err != nil {
			return err
		}
		var msgs uint64
		for _, c := range info.State.Subjects {
			msgs += c
		}
		inPartitions += msgs
		if msgs == 0 {
			continue
		}
		c, err := st.Consumer(ctx, natsx.CounterDurable(durable, p))
		if err != nil {
			return fmt.Errorf("partition %d holds %d messages: %w", p, msgs, err)
		}
		ci, err := c.Info(ctx)
		if err != nil {
			return err
		}
		last, err := st.GetLastMsgForSubject(ctx, natsx.CountsFilter(p))
		if err != nil {
			return fmt.Errorf("partition %d's last message: %w", p, err)
		}
		if ci.AckFloor.Stream < last.Sequence {
			return fmt.Errorf("consumer %s acknowledged up to sequence %d, its partition's last message is %d",
				ci.Name, ci.AckFloor.Stream, last.Sequence)
		}
	}
	if inPartitions != all.State.Msgs {
		return fmt.Errorf("COUNTS holds %d messages, %d of them on the subjects of its %d partitions", all.State.Msgs, inPartitions, n)
	}
	return nil
}
