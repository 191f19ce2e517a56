package detection

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// Runner consumes an event stream with a durable pull consumer, runs the detectors and
// publishes their alerts to ALERTS.
//
// Ack rule: a fetched batch is acknowledged only after every alert it raised was stored by
// JetStream, so a crash between the two replays the batch, and the replayed alerts (same ids,
// same Nats-Msg-Id) are deduplicated. An event that cannot be decoded is terminated and copied
// to DEADLETTER; one a detector panics on is copied there ("detector-failed") and acknowledged
// with the others, which the other detectors saw. A failed publish naks the batch with a delay, and the alerts it was to publish
// are published again before the next batch's: the detectors have already counted its events
// and may not raise them again.
//
// An alert a detector emits again in a later batch (a spray reaching one more account) is
// published as a new version (see Versions), never as a duplicate of the first.
type Runner struct {
	JS        jetstream.JetStream
	Stream    string
	Durable   string
	Service   string
	Detectors []Detector
	Log       *zap.Logger
	// Batch is the most events fetched at once (default 256).
	Batch int
	// OnEvent, when set, sees every decoded event after detection (device knowledge, metrics).
	// An error naks the event and the rest of its batch for redelivery, after 1s doubling up to
	// 32s; at the MaxDeliveries-th delivery the event is dead-lettered ("max-deliveries") and
	// the rest flows. An invalid KV key (jetstream.ErrInvalidKey) cannot heal: the event is
	// dead-lettered at once ("invalid-key").
	OnEvent func(ctx context.Context, ev *adjoinv1.Event) error
	// MaxDeliveries is the delivery at which an event OnEvent still fails on is given up
	// (0: natsx.MaxDeliveries).
	MaxDeliveries int
	// Metrics, when set, counts published alerts and dead letters.
	Metrics *metrics.Metrics
	// Versions numbers the versions of re-emitted alerts (zero value: the defaults).
	Versions Versions

	unsent []versionMsg // versions not yet stored: a failed publish sends them again first
}

// versionMsg is an alert version and its Nats-Msg-Id.
type versionMsg struct {
	alert *adjoinv1.Alert
	id    string
}

// Run consumes until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	cons, err := r.JS.CreateOrUpdateConsumer(ctx, r.Stream, jetstream.ConsumerConfig{
		Durable:       r.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       natsx.AckWait,
		MaxAckPending: 4096,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return fmt.Errorf("consumer %s on %s: %w", r.Durable, r.Stream, err)
	}
	size := r.Batch
	if size <= 0 {
		size = 256
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(size, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			r.Log.Warn("fetch failed", zap.String("subject", r.Stream), logx.Err(err))
			sleep(ctx, time.Second)
			continue
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
			r.Log.Debug("fetch ended early", logx.Err(err))
		}
		if len(msgs) > 0 {
			r.handle(ctx, msgs)
		}
	}
	return nil
}

func (r *Runner) handle(ctx context.Context, msgs []jetstream.Msg) {
	var alerts []*adjoinv1.Alert
	var good []jetstream.Msg
	pub := natsx.NewBatch(r.JS)
	for i, m := range msgs {
		var ev adjoinv1.Event
		if err := natsx.Decode(m.Headers(), m.Data(), &ev); err != nil {
			r.deadLetter(ctx, m, "undecodable-event", err)
			continue
		}
		found, failures := r.detect(&ev)
		alerts = append(alerts, found...)
		for _, err := range failures {
			r.copyToDeadLetter(ctx, m, err)
		}
		if r.OnEvent != nil {
			if err := r.OnEvent(ctx, &ev); err != nil {
				if errors.Is(err, jetstream.ErrInvalidKey) {
					// No retry makes a key valid: the event is given up at once, not redelivered.
					r.deadLetter(ctx, m, "invalid-key", err)
					continue
				}
				delivered, limit := natsx.Delivered(m), r.maxDeliveries()
				if delivered >= uint64(limit) {
					r.Log.Error("event still failing at its last delivery; dead-lettered", zap.String("subject", m.Subject()),
						zap.Uint64("delivered", delivered), logx.Err(err))
					r.deadLetter(ctx, m, "max-deliveries", fmt.Errorf("still failing at delivery %d of %d: %w", delivered, limit, err))
					continue
				}
				r.queue(alerts)
				r.nakAll(append(good, msgs[i:]...), err, natsx.RetryDelay(delivered))
				return
			}
		}
		good = append(good, m)
	}
	merged := r.queue(alerts)
	for _, v := range merged {
		msg, err := natsx.NewMsg(Subject(v.alert), v.id, v.alert)
		if err == nil {
			err = pub.Add(msg)
		}
		if err != nil {
			r.nakAll(good, err, 2*time.Second)
			return
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := pub.Wait(wctx); err != nil {
		r.nakAll(good, err, 2*time.Second)
		return
	}
	r.unsent = nil
	if r.Metrics != nil {
		for _, v := range merged {
			r.Metrics.AlertsPublished.WithLabelValues(r.Service, v.alert.GetDetector(), sideLabel(v.alert.GetSide())).Inc()
		}
	}
	for _, m := range good {
		if err := m.Ack(); err != nil {
			r.Log.Warn("ack failed; the event will be redelivered and deduplicated", logx.Err(err))
		}
	}
	for _, v := range merged {
		r.Log.Debug("alert", zap.String("alert_id", v.alert.GetId()), zap.String("detector", v.alert.GetDetector()),
			zap.Int64("version", v.alert.GetVersion()))
	}
}

// queue numbers the versions of a batch's alerts and adds them to those not yet published,
// which it returns. A version already queued is not queued twice.
func (r *Runner) queue(alerts []*adjoinv1.Alert) []versionMsg {
	for _, a := range Merge(alerts) {
		v := r.Versions.Next(a)
		id := MsgID(v)
		if !slices.ContainsFunc(r.unsent, func(u versionMsg) bool { return u.id == id }) {
			r.unsent = append(r.unsent, versionMsg{v, id})
		}
	}
	return r.unsent
}

func (r *Runner) nakAll(msgs []jetstream.Msg, err error, delay time.Duration) {
	r.Log.Warn("batch failed; it will be redelivered", zap.Duration("retry_in", delay), logx.Err(err))
	for _, m := range msgs {
		_ = m.NakWithDelay(delay)
	}
}

func (r *Runner) maxDeliveries() int {
	if r.MaxDeliveries > 0 {
		return r.MaxDeliveries
	}
	return natsx.MaxDeliveries
}

// detect runs every detector on ev. A detector that panics on an event it did not foresee
// loses that event, not the service: the other detectors' alerts stand, and the failure is
// returned for the dead-letter stream.
func (r *Runner) detect(ev *adjoinv1.Event) (alerts []*adjoinv1.Alert, failures []error) {
	for _, d := range r.Detectors {
		found, err := detectOne(d, ev)
		if err != nil {
			failures = append(failures, err)
			continue
		}
		alerts = append(alerts, found...)
	}
	return alerts, failures
}

func detectOne(d Detector, ev *adjoinv1.Event) (alerts []*adjoinv1.Alert, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("detector %s panicked on event %d from %s: %v", d.Name(), ev.GetEventId(), ev.GetHost(), p)
		}
	}()
	return d.Detect(ev), nil
}

// deadLetter terminates m with a copy on DEADLETTER under reason.
func (r *Runner) deadLetter(ctx context.Context, m jetstream.Msg, reason string, cause error) {
	dl := natsx.DeadLetterMsg(r.Service, reason, m.Data(), cause.Error(), "subject "+m.Subject())
	if _, err := r.JS.PublishMsg(ctx, dl); err != nil {
		// Not terminated: it stays pending and is retried rather than lost.
		r.Log.Error("dead-letter publish failed", zap.String("subject", m.Subject()), logx.Err(err))
		_ = m.NakWithDelay(5 * time.Second)
		return
	}
	_ = m.TermWithReason(reason + ": " + cause.Error())
	if r.Metrics != nil {
		r.Metrics.DeadLetters.WithLabelValues(r.Service, reason).Inc()
	}
}

// copyToDeadLetter puts a copy of an event a detector failed on on DEADLETTER
// ("detector-failed"); the event itself is acknowledged with its batch, the other detectors
// having seen it.
func (r *Runner) copyToDeadLetter(ctx context.Context, m jetstream.Msg, cause error) {
	r.Log.Error("detector failed on an event", zap.String("subject", m.Subject()), logx.Err(cause))
	dl := natsx.DeadLetterMsg(r.Service, "detector-failed", m.Data(), cause.Error(), "subject "+m.Subject())
	if _, err := r.JS.PublishMsg(ctx, dl); err != nil {
		r.Log.Error("dead-letter publish failed", zap.String("subject", m.Subject()), logx.Err(err))
		return
	}
	if r.Metrics != nil {
		r.Metrics.DeadLetters.WithLabelValues(r.Service, "detector-failed").Inc()
	}
}

func sideLabel(s adjoinv1.Side) string {
	if s == adjoinv1.Side_SIDE_ENDPOINT {
		return "endpoint"
	}
	return "identity"
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
