// Package ports holds the correlator's incoming side: the durable pull consumer on ALERTS.
package ports

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// DefaultBatch is how many alerts the consumer fetches and handles at once by default.
const DefaultBatch = 512

// MaxBatch bounds Consumer.Batch: a batch is resolved in memory and its publishes are all in
// flight at once.
const MaxBatch = 4096

// Consumer feeds ALERTS to the correlator. Several correlator instances share one durable
// consumer, so JetStream spreads the alerts between them. It takes alerts in batches: every
// alert of a batch is resolved in memory, every publish of the batch is pipelined, and the
// alerts are acknowledged once every publish is.
//
// Ack rule: success → Ack; undecodable payload → TermWithReason and a copy to DEADLETTER;
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
	// and dead-lettered; 0 retries forever. Deliveries cut short by a crash count too, so it
	// is the number of attempts at most, not at least.
	MaxDeliveries int
}

// Run consumes until ctx ends; the batch in hand is finished first.
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
	shared, err := c.JS.CreateOrUpdateConsumer(ctx, natsx.StreamAlerts, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	var wg sync.WaitGroup
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cons := shared
			for ctx.Err() == nil {
				msgs, err := fetch(cons, size)
				if err != nil && ctx.Err() == nil {
					c.Log.Warn("fetch failed", logx.Err(err))
					// The pull was refused or went unanswered (the durable was deleted, or set
					// to another configuration): without this, every later pull fails alike.
					if cc, cerr := c.JS.CreateOrUpdateConsumer(ctx, natsx.StreamAlerts, cfg); cerr == nil {
						cons = cc
					}
					sleep(ctx, time.Second)
				}
				if len(msgs) > 0 {
					c.handleBatch(ctx, msgs, ackWait)
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// inFlight is how many batches one instance handles at once: one is fetched and resolved
// while another waits for its acknowledgements. Order does not matter: the partition owners
// apply each alert version once, whatever order versions come in.
const inFlight = 2

// fetch waits up to a second for one message, then takes what else is there, up to size in
// all, without waiting: a batch is as large as the backlog allows and a lone alert does not
// wait for others to fill it.
func fetch(cons jetstream.Consumer, size int) ([]jetstream.Msg, error) {
	first, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range first.Messages() {
		msgs = append(msgs, m)
	}
	if err := first.Error(); len(msgs) == 0 && err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
		return nil, err // a refused or unanswered pull, told apart from an idle one
	}
	if len(msgs) == 0 || size == 1 {
		return msgs, nil
	}
	rest, err := cons.FetchNoWait(size - 1)
	if err != nil {
		return msgs, nil // the next round takes them
	}
	for m := range rest.Messages() {
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// handleBatch handles the messages of one fetch: undecodable or invalid ones are
// dead-lettered, the others correlated together and acknowledged once their publishes are.
func (c *Consumer) handleBatch(ctx context.Context, msgs []jetstream.Msg, ackWait time.Duration) {
	// Finish the batch even if shutdown begins, within a deadline shorter than AckWait.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackWait*2/3)
	defer cancel()
	held := make([]jetstream.Msg, 0, len(msgs))
	alerts := make([]*adjoinv1.Alert, 0, len(msgs))
	for _, m := range msgs {
		a := &adjoinv1.Alert{}
		if err := natsx.Decode(m.Headers(), m.Data(), a); err != nil {
			c.deadLetter(hctx, m, "undecodable-alert", err)
			continue
		}
		if err := validate(a); err != nil {
			c.deadLetter(hctx, m, "invalid-alert", err)
			continue
		}
		held, alerts = append(held, m), append(alerts, a)
	}
	if len(alerts) == 0 {
		return
	}
	start := time.Now()
	outs, errs := c.Correlator.HandleBatch(hctx, alerts)
	for i, m := range held {
		a, out := alerts[i], outs[i]
		if errs[i] != nil {
			c.retry(hctx, m, a.GetId(), fmt.Errorf("correlation failed: %w", errs[i]))
			continue
		}
		if out.Pending && c.Pending != nil {
			if err := c.Pending.Put(hctx, a); err != nil {
				c.retry(hctx, m, a.GetId(), fmt.Errorf("keeping pending alert failed: %w", err))
				continue
			}
		}
		c.observe(m, out, start)
		if err := m.Ack(); err != nil {
			c.Log.Warn("ack failed; redelivery will be a no-op", zap.String("alert_id", a.GetId()), logx.Err(err))
		}
		c.Log.Debug("correlated", zap.String("alert_id", a.GetId()), zap.Strings("entities", out.Entities),
			zap.Bool("unresolved", out.Unresolved), zap.String("excluded", out.Excluded))
	}
}

// retry naks a failed alert with a delay that grows with its deliveries, or gives it up at
// the MaxDeliveries-th: a payload that no attempt can handle (say, one whose correlated
// message is over the server's payload limit) must not be retried forever, and everything
// else has flowed past it meanwhile.
func (c *Consumer) retry(ctx context.Context, m jetstream.Msg, alertID string, cause error) {
	if !retryOrGiveUp(ctx, c.JS, c.Metrics, c.Log, m, c.MaxDeliveries, "max-deliveries", "alert", cause, zap.String("alert_id", alertID)) {
		c.Log.Warn("alert failed; will retry", zap.String("alert_id", alertID), zap.Uint64("delivered", natsx.Delivered(m)), logx.Err(cause))
	}
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

func (c *Consumer) deadLetter(ctx context.Context, m jetstream.Msg, reason string, cause error) {
	deadLetter(ctx, c.JS, c.Metrics, c.Log, m, reason, cause.Error())
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
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
