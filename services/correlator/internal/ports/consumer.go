// Package ports holds the correlator's incoming side: the durable pull consumer on ALERTS.
package ports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/consume"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
)

// DefaultBatch is how many alerts the consumer fetches and handles at once by default.
const DefaultBatch = 512

// MaxBatch bounds Consumer.Batch: a batch is resolved in memory and its publishes are all in
// flight at once. It is every consumer's bound.
const MaxBatch = consume.MaxBatch

// Consumer feeds ALERTS to the correlator. Several correlator instances share one durable
// consumer, so JetStream spreads the alerts between them. It takes alerts in batches: every
// alert of a batch is resolved in memory, every publish of the batch is pipelined, and the
// alerts are acknowledged once every publish is.
//
// Ack rule (package consume runs the fetch loop, the retries and the dead letters): success → Ack; undecodable payload → TermWithReason and a copy to DEADLETTER;
// failure to publish → NakWithDelay (1s, doubling with each delivery up to 32s), and the alert
// is handled again from the start (idempotent: same deduplication ids, and the partition
// owners apply each alert version once); a failure at the MaxDeliveries-th delivery →
// TermWithReason and a copy to DEADLETTER ("max-deliveries"), so an alert that can never be
// handled does not come back forever.
type Consumer struct {
	JS         jetstream.JetStream
	Durable    string
	Correlator *app.Correlator
	// Pending, when set, keeps alerts with references that may resolve later.
	Pending PendingStore
	// Metrics, when set, times correlation and counts outcomes.
	Metrics *metrics.Metrics
	Log     *zap.Logger
	// AckWait is how long JetStream waits for an ack before redelivering (0: natsx.AckWait).
	AckWait time.Duration
	// Batch is the most alerts fetched and handled at once (default DefaultBatch, at most
	// MaxBatch).
	Batch int
	// MaxDeliveries is the delivery at which an alert whose handling still fails is given up
	// and dead-lettered (0: natsx.MaxDeliveries, as for every consumer: see package consume).
	// Deliveries cut short by a crash count too, so it is the number of attempts at most.
	MaxDeliveries int
}

// Run consumes until ctx ends; the batches in hand are finished first.
func (c *Consumer) Run(ctx context.Context) error {
	ackWait := c.AckWait
	if ackWait <= 0 {
		ackWait = natsx.AckWait
	}
	size := c.Batch
	if size <= 0 {
		size = DefaultBatch
	}
	size = min(size, MaxBatch)
	cfg := jetstream.ConsumerConfig{
		Durable:       c.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxAckPending: max(1024, 2*inFlight*size),
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	r := &consume.Runner{
		Consumer: func(ctx context.Context) (jetstream.Consumer, error) {
			return c.JS.CreateOrUpdateConsumer(ctx, natsx.StreamAlerts, cfg)
		},
		Name: c.Durable, Handle: c.handleBatch, JS: c.JS, Service: service, MaxDeliveries: c.MaxDeliveries,
		AckWait: ackWait, Batch: size, Eager: true, InFlight: inFlight, Metrics: c.Metrics, Log: c.Log,
	}
	return r.Run(ctx)
}

// service names the correlator's dead letters (deadletter.correlator.<reason>).
const service = "correlator"

// inFlight is how many batches one instance handles at once: one is fetched and resolved
// while another waits for its acknowledgements. Order does not matter: the partition owners
// apply each alert version once, whatever order versions come in.
const inFlight = 2

// handleBatch handles the messages of one fetch: undecodable or invalid ones are
// dead-lettered, the others correlated together and acknowledged once their publishes are.
func (c *Consumer) handleBatch(ctx context.Context, b *consume.Batch) error {
	held := make([]jetstream.Msg, 0, len(b.Msgs))
	alerts := make([]*adjoinv1.Alert, 0, len(b.Msgs))
	data := make([][]byte, 0, len(b.Msgs))
	for _, m := range b.Msgs {
		a := &adjoinv1.Alert{}
		if err := natsx.Decode(m.Headers(), m.Data(), a); err != nil {
			b.Reject(m, "undecodable-alert", err)
			continue
		}
		if err := validate(a); err != nil {
			b.Reject(m, "invalid-alert", err)
			continue
		}
		held, alerts, data = append(held, m), append(alerts, a), append(data, m.Data())
	}
	if len(alerts) == 0 {
		return nil
	}
	start := time.Now()
	outs, errs := c.Correlator.HandleReceived(ctx, alerts, data)
	for i, m := range held {
		a, out := alerts[i], outs[i]
		if errs[i] != nil {
			b.Retry(m, fmt.Errorf("alert %s: correlation failed: %w", a.GetId(), errs[i]))
			continue
		}
		if out.Pending && c.Pending != nil {
			if err := c.Pending.Put(ctx, a); err != nil {
				b.Retry(m, fmt.Errorf("alert %s: keeping it pending failed: %w", a.GetId(), err))
				continue
			}
		}
		c.observe(m, out, start)
		b.Ack(m)
		c.Log.Debug("correlated", zap.String("alert_id", a.GetId()), zap.Strings("entities", out.Entities),
			zap.Bool("unresolved", out.Unresolved), zap.String("excluded", out.Excluded))
	}
	return nil
}

// validate names what makes an alert impossible to count.
func validate(a *adjoinv1.Alert) error {
	switch {
	case a.GetId() == "":
		return errors.New("alert without id")
	case natsx.KeyToken(a.GetId()) != a.GetId():
		// The id becomes a KV key (adjoin_pending): one past the server's control line would
		// cut the correlator off NATS, so it is refused like any other unusable alert.
		return fmt.Errorf("alert id of %d bytes (%.40q) is not a key token: at most %d of [A-Za-z0-9_-]",
			len(a.GetId()), a.GetId(), natsx.MaxToken)
	case a.GetSide() != adjoinv1.Side_SIDE_IDENTITY && a.GetSide() != adjoinv1.Side_SIDE_ENDPOINT:
		return fmt.Errorf("alert %s: side %v, want identity or endpoint", a.GetId(), a.GetSide())
	case a.GetVersion() < 0:
		return fmt.Errorf("alert %s: negative version %d", a.GetId(), a.GetVersion())
	case len(a.GetEntities()) == 0:
		return fmt.Errorf("alert %s: no entity references", a.GetId())
	}
	return nil
}

// observe records the time taken, the lag since the alert reached ALERTS, and the outcome.
func (c *Consumer) observe(m jetstream.Msg, out app.Outcome, start time.Time) {
	if c.Metrics == nil {
		return
	}
	now := time.Now()
	c.Metrics.CorrelateSeconds.Observe(now.Sub(start).Seconds())
	if meta, err := m.Metadata(); err == nil {
		c.Metrics.AlertToBadgeLag.Observe(now.Sub(meta.Timestamp).Seconds())
	}
	outcome := "counted"
	switch {
	case out.Excluded != "":
		outcome = "excluded"
	case out.Unresolved:
		outcome = "unresolved"
	case out.Pending:
		outcome = "partly-resolved"
	}
	c.Metrics.AlertsCorrelated.WithLabelValues(outcome).Inc()
}
