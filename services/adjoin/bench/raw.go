package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// RawResult is the baseline: what the nats.go client gets from the same server with messages
// the size of adjoin's alerts.
type RawResult struct {
	Messages int `json:"messages"`
	// MsgBytes is the mean size of a message: subject, headers and payload.
	MsgBytes int `json:"msg_bytes"`
	// PublishPerSec is asynchronous publishing, every acknowledgement awaited.
	PublishPerSec float64 `json:"publish_per_s"`
	// ConsumePerSec is a pull consumer fetching and acknowledging each message.
	ConsumePerSec float64 `json:"consume_per_s"`
	// RoundTripPerSec is messages / (publish time + consume time): each message stored once
	// and consumed once, the least an alert costs on its way through the correlator.
	RoundTripPerSec float64 `json:"round_trip_per_s"`
	// OtherCPUShare is the machine's CPU other processes used meanwhile (cpuWindow).
	OtherCPUShare float64 `json:"other_cpu_share"`
}

const rawStream, rawSubject = "BENCH_RAW", "bench.raw"

// measureRaw publishes n alert messages (the mix the end-to-end phase publishes) to a new
// file-storage stream, then pulls them with a durable consumer, 64 at a time, decoding and
// acknowledging each, and deletes the stream.
func measureRaw(ctx context.Context, js jetstream.JetStream, n int) (RawResult, error) {
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: rawStream, Subjects: []string{rawSubject},
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Hour})
	if err != nil {
		return RawResult{}, err
	}
	defer js.DeleteStream(context.WithoutCancel(ctx), rawStream) //nolint:errcheck // the store is thrown away anyway
	msgs := make([]*nats.Msg, n)
	bytes := 0
	for i := range msgs {
		if msgs[i], err = alertMsg(alert("raw", i, i%1000)); err != nil {
			return RawResult{}, err
		}
		msgs[i].Subject = rawSubject
		bytes += msgSize(msgs[i])
	}
	cpu := startCPUWindow()
	start := time.Now()
	p := &publisher{js: js}
	for _, m := range msgs {
		if err := p.publish(m); err != nil {
			return RawResult{}, err
		}
	}
	if err := p.flush(); err != nil {
		return RawResult{}, err
	}
	published := time.Now()

	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy,
		MaxAckPending: 1024, AckWait: natsx.AckWait})
	if err != nil {
		return RawResult{}, err
	}
	for got := 0; got < n; {
		// Never ask for more than is left: a pull for more waits out its whole MaxWait.
		batch, err := cons.Fetch(min(64, n-got), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return RawResult{}, err
		}
		for m := range batch.Messages() {
			var a adjoinv1.Alert
			if err := natsx.Decode(m.Headers(), m.Data(), &a); err != nil {
				return RawResult{}, err
			}
			if err := m.Ack(); err != nil {
				return RawResult{}, err
			}
			got++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return RawResult{}, err
		}
		if err := ctx.Err(); err != nil {
			return RawResult{}, err
		}
	}
	// Acks are fire-and-forget, as the correlator's are: wait until the server has them all.
	if _, err := waitConsumer(ctx, js, rawStream, "raw", time.Millisecond, time.Minute); err != nil {
		return RawResult{}, fmt.Errorf("raw baseline: %w", err)
	}
	consumed := time.Now()
	pub, con := published.Sub(start), consumed.Sub(published)
	return RawResult{Messages: n, MsgBytes: bytes / n, PublishPerSec: float64(n) / pub.Seconds(),
		ConsumePerSec: float64(n) / con.Seconds(), RoundTripPerSec: float64(n) / (pub + con).Seconds(),
		OtherCPUShare: cpu.otherShare()}, nil
}
