// Package ports holds the correlator's incoming side: the durable pull consumer on ALERTS.
package ports

import (
	"context"
	"errors"
	"fmt"
	"github.com/adjoin/adjoin/pkg/logx"
	"sync"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Consumer feeds ALERTS to the correlator. Several correlator instances share one durable
// consumer, so JetStream spreads the alerts between them.
//
// Ack rule: success → Ack; undecodable payload → TermWithReason and a copy to DEADLETTER;
// failure to count or publish → NakWithDelay (1s, doubling with each delivery up to 32s), and
// the alert is handled again from the start (idempotent, see adapters.BadgeKV); a failure at
// the MaxDeliveries-th delivery → TermWithReason and a copy to DEADLETTER ("max-deliveries"),
// so an alert that can never be handled does not come back forever.
type Consumer struct {
	JS         jetstream.JetStream
	Durable    string
	Correlator *app.Correlator
	// Pending, when set, keeps alerts with references that may resolve later.
	Pending PendingStore
	// Metrics, when set, times correlation and counts outcomes.
	Metrics *metrics.Metrics
	Log     *zap.Logger
	// AckWait is how long JetStream waits for an ack before redelivering.
	AckWait time.Duration
	// Workers handle the alerts of a fetched batch concurrently (default 1). Correctness does
	// not depend on order: counts keep the highest version per alert and every write is
	// revision-checked, so two versions of one alert, or two alerts of one entity, may be
	// handled at once.
	Workers int
	// MaxDeliveries is the delivery at which an alert whose handling still fails is given up
	// and dead-lettered; 0 retries forever. Deliveries cut short by a crash count too, so it
	// is the number of attempts at most, not at least.
	MaxDeliveries int
}

// Run consumes until ctx ends; the message in hand is finished first.
func (c *Consumer) Run(ctx context.Context) error {
	ackWait := c.AckWait
	if ackWait <= 0 {
		ackWait = 30 * time.Second
	}
	cons, err := c.JS.CreateOrUpdateConsumer(ctx, natsx.StreamAlerts, jetstream.ConsumerConfig{
		Durable:       c.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxAckPending: 1024,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(64, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() == nil {
				c.Log.Warn("fetch failed", logx.Err(err))
				sleep(ctx, time.Second)
			}
			continue
		}
		c.handleAll(ctx, batch.Messages(), ackWait)
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
			c.Log.Debug("fetch ended early", logx.Err(err))
		}
	}
	return nil
}

// handleAll handles the messages of one fetch with up to Workers at a time.
func (c *Consumer) handleAll(ctx context.Context, msgs <-chan jetstream.Msg, ackWait time.Duration) {
	workers := max(c.Workers, 1)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range msgs {
				c.handle(ctx, m, ackWait)
			}
		}()
	}
	wg.Wait()
}

func (c *Consumer) handle(ctx context.Context, m jetstream.Msg, ackWait time.Duration) {
	var a adjoinv1.Alert
	if err := natsx.Decode(m.Headers(), m.Data(), &a); err != nil {
		c.deadLetter(ctx, m, "undecodable-alert", err)
		return
	}
	if err := validate(&a); err != nil {
		c.deadLetter(ctx, m, "invalid-alert", err)
		return
	}
	// Finish this message even if shutdown begins, within a deadline shorter than AckWait.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackWait*2/3)
	defer cancel()
	start := time.Now()
	out, err := c.Correlator.Handle(hctx, &a)
	if err != nil {
		c.retry(ctx, m, a.GetId(), fmt.Errorf("correlation failed: %w", err))
		return
	}
	if out.Pending && c.Pending != nil {
		if err := c.Pending.Put(hctx, &a); err != nil {
			c.retry(ctx, m, a.GetId(), fmt.Errorf("keeping pending alert failed: %w", err))
			return
		}
	}
	c.observe(m, out, start)
	if err := m.Ack(); err != nil {
		c.Log.Warn("ack failed; redelivery will be a no-op", zap.String("alert_id", a.GetId()), logx.Err(err))
	}
	c.Log.Debug("correlated", zap.String("alert_id", a.GetId()), zap.Strings("entities", out.Entities),
		zap.Bool("unresolved", out.Unresolved), zap.String("excluded", out.Excluded))
}

// retry naks a failed alert with a delay that grows with its deliveries, or gives it up at
// the MaxDeliveries-th: a payload that no attempt can handle (say, one whose correlated
// message is over the server's payload limit) must not be retried forever, and everything
// else has flowed past it meanwhile.
func (c *Consumer) retry(ctx context.Context, m jetstream.Msg, alertID string, cause error) {
	delivered := natsx.Delivered(m)
	if c.MaxDeliveries > 0 && delivered >= uint64(c.MaxDeliveries) {
		c.Log.Error("alert still failing at its last delivery; dead-lettered", zap.String("alert_id", alertID),
			zap.Uint64("delivered", delivered), logx.Err(cause))
		c.deadLetter(ctx, m, "max-deliveries", fmt.Errorf("still failing at delivery %d of %d: %w", delivered, c.MaxDeliveries, cause))
		return
	}
	c.Log.Warn("alert failed; will retry", zap.String("alert_id", alertID), zap.Uint64("delivered", delivered), logx.Err(cause))
	_ = m.NakWithDelay(natsx.RetryDelay(delivered))
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
	dl := natsx.DeadLetterMsg("correlator", reason, m.Data(), cause.Error(), "subject "+m.Subject())
	if _, err := c.JS.PublishMsg(ctx, dl); err != nil {
		c.Log.Error("dead-letter publish failed; leaving message pending", zap.String("subject", m.Subject()), logx.Err(err))
		_ = m.NakWithDelay(5 * time.Second)
		return
	}
	_ = m.TermWithReason(reason + ": " + cause.Error())
	if c.Metrics != nil {
		c.Metrics.DeadLetters.WithLabelValues("correlator", reason).Inc()
	}
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
