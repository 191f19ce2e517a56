package ports

import (
	"context"
	"errors"
	"fmt"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// IncidentStore keeps incidents and publishes their changes.
type IncidentStore interface {
	// Get returns the stored state of incident id, or nil.
	Get(ctx context.Context, id string) (*adjoinv1.Incident, error)
	// Write stores and publishes incs in order, and returns once all are stored.
	Write(ctx context.Context, incs []*adjoinv1.Incident) error
}

// builderGroup is the priority group of the incident builder's consumer: its pinned-client
// policy hands the messages to one builder at a time, across every correlator instance.
const builderGroup = "builder"

// IncidentBuilder follows the CORRELATED stream and keeps incidents up to date. One builder at a
// time, across all correlator instances, receives the messages (a consumer pinned to one
// client; another takes over when that one stops pulling for PinnedTTL), so no two builders
// ever write the same incident at once.
//
// It groups from its own window of the alerts counted (Grouper.Alerts), fed with every
// correlated copy it takes. When it starts, and whenever the pin moves to it (a new pin id on
// the messages: another builder may have handled messages meanwhile), it first replays
// CORRELATED into the window with an ordered consumer (catchUp), so the window holds every
// alert correlated in its memory, as a builder that had run all along would. A builder that
// receives nothing catches up every idleCatchUp, so a standby's takeover replays little. It takes the
// messages in batches: the batch's alerts are fed to the window, then each message's incident
// is grouped (a message whose alert is already in an incident of the batch adds nothing and is
// skipped), and the batch's changed incidents are written together, pipelined, before its
// messages are acknowledged.
//
// Ack rule: success → Ack once the batch's incidents are stored; undecodable, or without an
// alert id or entity key → Term (the correlator wrote it, so this is a bug, and the
// dead-letter copy keeps it: "undecodable-correlated", "invalid-correlated"); failure →
// NakWithDelay (1s doubling up to 32s), and at the MaxDeliveries-th delivery Term with a copy
// on DEADLETTER ("incident-failed"); window not caught up → NakWithDelay(1s), the batch is not
// grouped against a window that may miss alerts.
type IncidentBuilder struct {
	JS      jetstream.JetStream
	Durable string
	// Grouper groups from its Alerts window, which the builder feeds and alone uses.
	Grouper *domain.Grouper
	Store   IncidentStore
	Log     *zap.Logger
	// Metrics, when set, counts the messages dead-lettered.
	Metrics *metrics.Metrics
	// MaxDeliveries is the delivery at which a failing message is given up (0:
	// natsx.MaxDeliveries).
	MaxDeliveries int
	// AckWait is how long JetStream waits for an ack before redelivering (0: natsx.AckWait);
	// a batch gets two thirds of it.
	AckWait time.Duration
	// Batch is the most messages handled at once (default 256).
	Batch int
	// PinnedTTL is how long a builder may go without pulling before another takes over
	// (0: DefaultPinnedTTL); it must exceed the time one batch takes.
	PinnedTTL time.Duration
	// Now is the clock replays start from (nil: time.Now).
	Now func() time.Time

	pin      string    // the pin id the window was last caught up for
	seq      uint64    // the last CORRELATED sequence a catch-up read
	replayed bool      // whether a catch-up ran
	caught   time.Time // when the last catch-up began
}

// Run builds incidents until ctx ends.
func (b *IncidentBuilder) Run(ctx context.Context) error {
	size := b.Batch
	if size <= 0 {
		size = 256
	}
	ttl := b.PinnedTTL
	if ttl <= 0 {
		ttl = DefaultPinnedTTL
	}
	cfg := jetstream.ConsumerConfig{
		Durable:        b.Durable,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        b.ackWait(),
		MaxAckPending:  size,
		FilterSubjects: correlatedSubjects,
		PriorityGroups: []string{builderGroup},
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PinnedTTL:      ttl,
	}
	if b.Grouper.Alerts == nil {
		b.Grouper.Alerts = domain.NewAlertWindow(0)
	}
	cons, err := b.JS.CreateOrUpdateConsumer(ctx, natsx.StreamCorrelated, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	for ctx.Err() == nil {
		if err := b.catchUp(ctx, "start"); err == nil {
			break
		} else if ctx.Err() == nil {
			b.Log.Warn("replaying CORRELATED into the incident window failed; retrying", logx.Err(err))
			sleep(ctx, time.Second)
		}
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(size, jetstream.FetchMaxWait(time.Second), jetstream.FetchPriorityGroup(builderGroup))
		if err != nil {
			if ctx.Err() == nil {
				sleep(ctx, time.Second)
			}
			continue
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		var apiErr *jetstream.APIError
		switch err := batch.Error(); {
		case err == nil, errors.Is(err, jetstream.ErrNoMessages), ctx.Err() != nil:
		case errors.As(err, &apiErr):
			// A correlator of an earlier version, started during a rolling upgrade, sets the
			// durable back to its own configuration, without the priority group, and the
			// server refuses pulls with a group: set it again.
			b.Log.Warn("the incidents consumer refused the pull; configuring it again", logx.Err(err))
			if c, cerr := b.JS.CreateOrUpdateConsumer(ctx, natsx.StreamCorrelated, cfg); cerr == nil {
				cons = c
			}
			sleep(ctx, time.Second)
		default:
			b.Log.Debug("fetch ended early", logx.Err(err))
		}
		switch {
		case len(msgs) > 0 && b.caughtUp(ctx, msgs):
			b.handle(ctx, msgs)
		case len(msgs) == 0 && time.Since(b.caught) >= idleCatchUp:
			if err := b.catchUp(ctx, "idle"); err != nil && ctx.Err() == nil {
				b.Log.Debug("idle catch-up of the incident window failed", logx.Err(err))
			}
		}
	}
	b.unpin(ctx)
	return nil
}

// unpin releases the builder's pin as it stops, if it held one, so that another instance (or
// this one's next life) takes over at once instead of after the pinned TTL. Should another
// builder hold the pin already, it loses it and catches up: harmless.
func (b *IncidentBuilder) unpin(ctx context.Context) {
	if b.pin == "" {
		return
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	st, err := b.JS.Stream(uctx, natsx.StreamCorrelated)
	if err == nil {
		err = st.UnpinConsumer(uctx, b.Durable, builderGroup)
	}
	if err != nil {
		b.Log.Warn("could not release the incidents consumer; another builder takes over after the pinned TTL", logx.Err(err))
	}
}

// caughtUp brings the window up to date when the batch was delivered under a pin other than
// the one it was caught up for (a takeover, or no pin at all: an earlier version's consumer
// configuration), and reports whether the batch may be grouped. When not, the batch is
// handed back for later.
func (b *IncidentBuilder) caughtUp(ctx context.Context, msgs []jetstream.Msg) bool {
	pin := msgs[0].Headers().Get(pinHeader)
	if pin != "" && pin == b.pin {
		return true
	}
	if err := b.catchUp(ctx, "takeover"); err != nil {
		if ctx.Err() == nil {
			b.Log.Warn("catching up the incident window failed; the batch waits", logx.Err(err))
		}
		for _, m := range msgs {
			_ = m.NakWithDelay(time.Second)
		}
		sleep(ctx, time.Second)
		return false
	}
	b.pin = pin
	return true
}

func (b *IncidentBuilder) ackWait() time.Duration {
	if b.AckWait > 0 {
		return b.AckWait
	}
	return natsx.AckWait
}

func (b *IncidentBuilder) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// failed is a message whose incident could not be built, and why.
type failed struct {
	m       jetstream.Msg
	alertID string
	err     error
}

func (b *IncidentBuilder) handle(ctx context.Context, msgs []jetstream.Msg) {
	// Finish the batch even if shutdown begins, within a deadline shorter than AckWait.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.ackWait()*2/3)
	defer cancel()
	st := app.NewIncidentBatch(b.Store)
	var built []jetstream.Msg
	var updates [][]*adjoinv1.Incident // per built message, the states it changed
	var failures []failed
	// The whole batch joins the window first: each grouping sees every alert of the batch.
	var taken []jetstream.Msg
	var copies []*adjoinv1.CorrelatedAlert
	for _, m := range msgs {
		var c adjoinv1.CorrelatedAlert
		if err := natsx.Decode(m.Headers(), m.Data(), &c); err != nil {
			b.deadLetter(hctx, m, "undecodable-correlated", err.Error())
			continue
		}
		a, ok := domain.AlertOf(&c)
		if !ok {
			// Nothing to group it by: acknowledged as it is, it would vanish without a trace.
			b.deadLetter(hctx, m, "invalid-correlated", "no alert id or no entity key")
			continue
		}
		b.Grouper.Alerts.Add(a)
		taken, copies = append(taken, m), append(copies, &c)
	}
	for i, m := range taken {
		u, err := st.Build(hctx, b.Grouper, copies[i])
		if err != nil {
			failures = append(failures, failed{m, copies[i].GetAlert().GetId(), err})
			continue
		}
		built, updates = append(built, m), append(updates, u)
	}
	changed := st.Changed()
	if err := b.Store.Write(hctx, changed); err != nil {
		// Written together they failed: each message's own changes are written alone, in
		// order, so one that can never be stored fails alone.
		b.Log.Warn("writing a batch of incidents failed; writing them one message at a time", logx.Err(err))
		var ok []jetstream.Msg
		for i, m := range built {
			if err := b.Store.Write(hctx, updates[i]); err != nil {
				failures = append(failures, failed{m, "", fmt.Errorf("writing incidents: %w", err)})
				continue
			}
			ok = append(ok, m)
		}
		built = ok
	}
	for _, m := range built {
		_ = m.Ack()
	}
	for _, f := range failures {
		b.retry(hctx, f)
	}
	for _, inc := range changed {
		if len(inc.GetAlertIds()) > 1 && inc.GetMergedInto() == "" {
			b.Log.Info("incident changed", zap.String("incident", inc.GetId()), zap.Int("alerts", len(inc.GetAlertIds())),
				zap.Strings("entities", inc.GetEntityKeys()))
		}
	}
}

// retry naks a failed message with a delay that grows with its deliveries, or gives it up at
// the MaxDeliveries-th.
func (b *IncidentBuilder) retry(ctx context.Context, f failed) {
	limit := b.MaxDeliveries
	if limit <= 0 {
		limit = natsx.MaxDeliveries
	}
	if !retryOrGiveUp(ctx, b.JS, b.Metrics, b.Log, f.m, limit, "incident-failed", "building incident", f.err, zap.String("alert_id", f.alertID)) {
		b.Log.Warn("building incident failed; will retry", zap.String("alert_id", f.alertID),
			zap.Uint64("delivered", natsx.Delivered(f.m)), logx.Err(f.err))
	}
}

func (b *IncidentBuilder) deadLetter(ctx context.Context, m jetstream.Msg, reason, cause string) {
	deadLetter(ctx, b.JS, b.Metrics, b.Log, m, reason, cause)
}
