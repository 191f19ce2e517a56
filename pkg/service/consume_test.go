package service

import (
	"context"
	"os/signal"
	"syscall"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/consume"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// TestSIGTERMWaitsForTheConsumerBatchAndTheClose: end to end, as a service runs its consumers.
// A consume.Runner is a worker of the runtime; SIGTERM arrives while its handler holds a
// batch. The handler's acknowledgements land, then the connection closes, then Wait returns:
// the consumer's ack floor covers the batch once Wait returned, and the connection closed
// after the last ack was sent (the ack was written on it, and a closed connection sends
// nothing).
func TestSIGTERMWaitsForTheConsumerBatchAndTheClose(t *testing.T) {
	s := natstest.Start(t)
	ctx := context.Background()
	stream, err := s.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "SVCWORK", Subjects: []string{"svcwork.>"}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	for i := range n {
		if _, err := s.JS.Publish(ctx, "svcwork.x", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGTERM) // as svcmain.Main does
	defer stop()
	rt := start(t, sigCtx, s)

	got, release := make(chan struct{}), make(chan struct{})
	// closedAtAck records, per acknowledgement, whether the connection was closed then.
	closedAtAck := make(chan bool, n)
	run := &consume.Runner{
		Consumer: func(ctx context.Context) (jetstream.Consumer, error) {
			return rt.JS.CreateOrUpdateConsumer(ctx, "SVCWORK", jetstream.ConsumerConfig{Durable: "svcwork", AckPolicy: jetstream.AckExplicitPolicy})
		},
		Name: "svcwork", JS: rt.JS, Service: "svctest", Batch: n, Log: rt.Log,
		Handle: func(ctx context.Context, b *consume.Batch) error {
			if len(b.Msgs) < n {
				b.Settle(nil)
				return nil
			}
			close(got)
			<-release // the batch in hand outlives the signal
			for _, m := range b.Msgs {
				b.Ack(m)
				closedAtAck <- rt.NC.Status() == nats.CLOSED
			}
			return nil
		},
	}
	rt.Go(run.Run)
	termWithWorkInHand(t, rt, got, release)
	close(closedAtAck)
	for closed := range closedAtAck {
		if closed {
			t.Error("an acknowledgement was sent on a closed connection")
		}
	}
	info, err := stream.Consumer(ctx, "svcwork")
	if err != nil {
		t.Fatal(err)
	}
	if ci := info.CachedInfo(); ci.NumAckPending != 0 || ci.AckFloor.Stream != n {
		t.Errorf("ack pending %d, ack floor %d (want 0, %d): acknowledgements lost", ci.NumAckPending, ci.AckFloor.Stream, n)
	}
}
