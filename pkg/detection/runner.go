package detection

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/consume"
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
// with the others, which the other detectors saw. A failed publish naks the batch with a delay
// (2s, never dead-lettered: not the events' fault), and the alerts it was to publish are
// published again before the next batch's: the detectors have already counted its events and
// may not raise them again. The fetch loop, retries and dead letters are package consume's.
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
	// Batch is the most events fetched at once (default 256, at most consume.MaxBatch).
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

// Run consumes until ctx ends; the batch in hand is finished first.
func (r *Runner) Run(ctx context.Context) error {
	cfg := jetstream.ConsumerConfig{
		Durable:       r.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       natsx.AckWait,
		MaxAckPending: 4096,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	run := &consume.Runner{
		Consumer: func(ctx context.Context) (jetstream.Consumer, error) {
			return r.JS.CreateOrUpdateConsumer(ctx, r.Stream, cfg)
		},
		Name: r.Durable, Handle: r.handle, JS: r.JS, Service: r.Service, MaxDeliveries: r.MaxDeliveries,
		Batch: r.Batch, Metrics: r.Metrics, Log: r.Log,
	}
	if err := run.Run(ctx); err != nil {
		return fmt.Errorf("on %s: %w", r.Stream, err)
	}
	return nil
}

// handle detects on one batch (see Runner for the ack rule).
func (r *Runner) handle(ctx context.Context, b *consume.Batch) error {
	var alerts []*adjoinv1.Alert
	var good []jetstream.Msg
	for i, m := range b.Msgs {
		var ev adjoinv1.Event
		if err := natsx.Decode(m.Headers(), m.Data(), &ev); err != nil {
			b.Reject(m, "undecodable-event", err)
			continue
		}
		found, failures := r.detect(&ev)
		alerts = append(alerts, found...)
		for _, err := range failures {
			b.CopyToDeadLetter(m, "detector-failed", err)
		}
		if r.OnEvent != nil {
			if err := r.OnEvent(ctx, &ev); err != nil {
				if errors.Is(err, jetstream.ErrInvalidKey) {
					// No retry makes a key valid: the event is given up at once, not redelivered.
					b.Reject(m, "invalid-key", err)
					continue
				}
				if b.Retry(m, err) {
					continue // given up: the rest flows
				}
				// The rest of the batch waits as long as the failed event does, and the events
				// before it, whose alerts are not published yet, with them.
				r.queue(alerts)
				delay := natsx.RetryDelay(natsx.Delivered(m))
				for _, o := range append(good, b.Msgs[i+1:]...) {
					b.Later(o, delay)
				}
				return nil
			}
		}
		good = append(good, m)
	}
	merged := r.queue(alerts)
	if err := r.publish(ctx, merged); err != nil {
		// Not the events' fault: they wait, never dead-lettered, and their alerts go first next time.
		r.Log.Warn("publishing a batch's alerts failed; it will be redelivered", zap.Duration("retry_in", 2*time.Second), logx.Err(err))
		for _, m := range good {
			b.Later(m, 2*time.Second)
		}
		return nil
	}
	r.unsent = nil
	if r.Metrics != nil {
		for _, v := range merged {
			r.Metrics.AlertsPublished.WithLabelValues(r.Service, v.alert.GetDetector(), sideLabel(v.alert.GetSide())).Inc()
		}
	}
	b.Settle(nil)
	for _, v := range merged {
		r.Log.Debug("alert", zap.String("alert_id", v.alert.GetId()), zap.String("detector", v.alert.GetDetector()),
			zap.Int64("version", v.alert.GetVersion()))
	}
	return nil
}

// publish stores the alert versions on ALERTS, pipelined, and waits for every acknowledgement.
func (r *Runner) publish(ctx context.Context, versions []versionMsg) error {
	pub := natsx.NewBatch(r.JS)
	for _, v := range versions {
		msg, err := natsx.NewMsg(Subject(v.alert), v.id, v.alert)
		if err == nil {
			err = pub.Add(msg)
		}
		if err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err := pub.Wait(wctx)
	return err
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

func sideLabel(s adjoinv1.Side) string {
	if s == adjoinv1.Side_SIDE_ENDPOINT {
		return "endpoint"
	}
	return "identity"
}
