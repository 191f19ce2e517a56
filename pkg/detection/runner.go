package detection

import (
	"context"
	"errors"
	"fmt"
	"github.com/adjoin/adjoin/pkg/logx"
	"slices"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Runner consumes an event stream with a durable pull consumer, runs the detectors and
// publishes their alerts to ALERTS.
//
// Ack rule: a fetched batch is acknowledged only after every alert it raised was stored by
// JetStream, so a crash between the two replays the batch, and the replayed alerts (same ids,
// same Nats-Msg-Id) are deduplicated. An event that cannot be decoded is terminated and copied
// to DEADLETTER. A failed publish naks the batch with a delay, and the alerts it was to publish
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
	// An error naks the whole batch for redelivery.
	OnEvent func(ctx context.Context, ev *adjoinv1.Event) error
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
		AckWait:       30 * time.Second,
		MaxAckPending: 4096,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
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
	for _, m := range msgs {
		var ev adjoinv1.Event
		if err := natsx.Decode(m.Headers(), m.Data(), &ev); err != nil {
			r.deadLetter(ctx, m, err)
			continue
		}
		alerts = append(alerts, Run(r.Detectors, &ev)...)
		good = append(good, m)
		if r.OnEvent != nil {
			if err := r.OnEvent(ctx, &ev); err != nil {
				r.queue(alerts)
				r.nakAll(good, err)
				return
			}
		}
	}
	merged := r.queue(alerts)
	for _, v := range merged {
		msg, err := natsx.NewMsg(Subject(v.alert), v.id, v.alert)
		if err == nil {
			err = pub.Add(msg)
		}
		if err != nil {
			r.nakAll(good, err)
			return
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := pub.Wait(wctx); err != nil {
		r.nakAll(good, err)
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

func (r *Runner) nakAll(msgs []jetstream.Msg, err error) {
	r.Log.Warn("batch failed; it will be redelivered", logx.Err(err))
	for _, m := range msgs {
		_ = m.NakWithDelay(2 * time.Second)
	}
}

func (r *Runner) deadLetter(ctx context.Context, m jetstream.Msg, cause error) {
	dl := natsx.DeadLetterMsg(r.Service, "undecodable-event", m.Data(), cause.Error(), "subject "+m.Subject())
	if _, err := r.JS.PublishMsg(ctx, dl); err != nil {
		// Not terminated: it stays pending and is retried rather than lost.
		r.Log.Error("dead-letter publish failed", zap.String("subject", m.Subject()), logx.Err(err))
		_ = m.NakWithDelay(5 * time.Second)
		return
	}
	_ = m.TermWithReason("undecodable event: " + cause.Error())
	if r.Metrics != nil {
		r.Metrics.DeadLetters.WithLabelValues(r.Service, "undecodable-event").Inc()
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
