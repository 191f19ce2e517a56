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
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
	"github.com/adjoin/adjoin/services/correlator/internal/wire"
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
// correlated copy it takes. When it starts (or StartDelay later, unless a batch comes sooner),
// and whenever the pin moves to it (a new pin id on the messages: another builder may have
// handled messages meanwhile), it first replays CORRELATED into the window with an ordered
// consumer (catchUp), so the window holds every alert correlated in its memory, as a builder
// that had run all along would. A builder that receives nothing catches up every idleCatchUp,
// so a standby's takeover replays little. It takes the messages in batches: the batch's
// alerts are fed to the window, then each message's incident is grouped (a message whose alert
// is already in an incident of the batch adds nothing and is skipped), and the batch's changed
// incidents are written together, pipelined, before its messages are acknowledged.
//
// A pull the server refuses (during a rolling upgrade, a correlator of an earlier version sets
// the durable back to its configuration, without the priority group) or pulls failing three
// times in a row (the durable deleted) get the consumer configured again, as for every
// consumer of package consume, which runs the fetch loop, the retries and the dead letters.
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
	// Batch is the most messages handled at once (default 256, at most consume.MaxBatch).
	Batch int
	// PinnedTTL is how long a builder may go without pulling before another takes over
	// (0: DefaultPinnedTTL); it must exceed the time one batch takes.
	PinnedTTL time.Duration
	// Now is the clock replays start from (nil: time.Now).
	Now func() time.Time
	// StartDelay is how long the first replay waits after Run starts when no batch asks for it
	// sooner (0: it runs before the first pull). When a whole stack starts, the loads that make
	// the services ready (the directory, the badge service's view) go first; a batch to group
	// replays at once.
	StartDelay time.Duration

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
	// The window first holds what was correlated before (the start replay): before the first
	// pull, after StartDelay when idle, or for the first batch (caughtUp), under the run's
	// context, not a request's: a replay may take longer than a request may.
	began := time.Now()
	if b.StartDelay <= 0 {
		b.startCatchUp(ctx)
	}
	r := &consume.Runner{
		Consumer: func(ctx context.Context) (jetstream.Consumer, error) {
			return b.JS.CreateOrUpdateConsumer(ctx, natsx.StreamCorrelated, cfg)
		},
		Name: b.Durable, JS: b.JS, Service: service, FailReason: "incident-failed", MaxDeliveries: b.MaxDeliveries,
		AckWait: b.ackWait(), Batch: size, Group: builderGroup, Metrics: b.Metrics, Log: b.Log,
		// A catch-up waits under the run's ctx; the grouping gets its own deadline after it.
		Handle: func(_ context.Context, batch *consume.Batch) error {
			if !b.caughtUp(ctx, batch) {
				return nil
			}
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.ackWait()*2/3)
			defer cancel()
			return b.handle(hctx, batch)
		},
		OnIdle: func(ctx context.Context) {
			if !b.replayed {
				if time.Since(began) >= b.StartDelay {
					b.startCatchUp(ctx)
				}
				return
			}
			if time.Since(b.caught) < idleCatchUp {
				return
			}
			if err := b.catchUp(ctx, "idle"); err != nil && ctx.Err() == nil {
				b.Log.Debug("idle catch-up of the incident window failed", logx.Err(err))
			}
		},
	}
	err := r.Run(ctx)
	b.unpin(ctx)
	return err
}

// startCatchUp replays CORRELATED into the window until it succeeds or ctx ends.
func (b *IncidentBuilder) startCatchUp(ctx context.Context) {
	for ctx.Err() == nil {
		err := b.catchUp(ctx, "start")
		if err == nil {
			return
		}
		if ctx.Err() == nil {
			b.Log.Warn("replaying CORRELATED into the incident window failed; retrying", logx.Err(err))
			sleep(ctx, time.Second)
		}
	}
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
func (b *IncidentBuilder) caughtUp(ctx context.Context, batch *consume.Batch) bool {
	pin := batch.Msgs[0].Headers().Get(pinHeader)
	if pin != "" && pin == b.pin {
		return true
	}
	why := "takeover"
	if !b.replayed {
		why = "start"
	}
	if err := b.catchUp(ctx, why); err != nil {
		if ctx.Err() == nil {
			b.Log.Warn("catching up the incident window failed; the batch waits", logx.Err(err))
		}
		for _, m := range batch.Msgs {
			batch.Later(m, time.Second)
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

// handle groups one batch (see IncidentBuilder for the ack rule).
func (b *IncidentBuilder) handle(ctx context.Context, batch *consume.Batch) error {
	st := app.NewIncidentBatch(b.Store)
	var built []jetstream.Msg
	var updates [][]*adjoinv1.Incident // per built message, the states it changed
	failures := map[jetstream.Msg]error{}
	// The whole batch joins the window first: each grouping sees every alert of the batch.
	var taken []jetstream.Msg
	var copies []*adjoinv1.CorrelatedAlert
	for _, m := range batch.Msgs {
		var c adjoinv1.CorrelatedAlert
		if err := wire.DecodeForIncidents(m.Headers().Get(natsx.HeaderType), m.Data(), &c); err != nil {
			batch.Reject(m, "undecodable-correlated", err)
			continue
		}
		a, ok := domain.AlertOf(&c)
		if !ok {
			// Nothing to group it by: acknowledged as it is, it would vanish without a trace.
			batch.Reject(m, "invalid-correlated", errors.New("no alert id or no entity key"))
			continue
		}
		b.Grouper.Alerts.Add(a)
		taken, copies = append(taken, m), append(copies, &c)
	}
	for i, m := range taken {
		u, err := st.Build(ctx, b.Grouper, copies[i])
		if err != nil {
			failures[m] = fmt.Errorf("alert %s: %w", copies[i].GetAlert().GetId(), err)
			continue
		}
		built, updates = append(built, m), append(updates, u)
	}
	changed := st.Changed()
	if err := b.Store.Write(ctx, changed); err != nil {
		// Written together they failed: each message's own changes are written alone, in
		// order, so one that can never be stored fails alone.
		b.Log.Warn("writing a batch of incidents failed; writing them one message at a time", logx.Err(err))
		for i, m := range built {
			if err := b.Store.Write(ctx, updates[i]); err != nil {
				failures[m] = fmt.Errorf("writing incidents: %w", err)
			}
		}
	}
	for _, m := range built {
		if failures[m] == nil {
			batch.Ack(m)
		}
	}
	for _, m := range taken {
		if err := failures[m]; err != nil {
			batch.Retry(m, err)
		}
	}
	for _, inc := range changed {
		if len(inc.GetAlertIds()) > 1 && inc.GetMergedInto() == "" {
			b.Log.Info("incident changed", zap.String("incident", inc.GetId()), zap.Int("alerts", len(inc.GetAlertIds())),
				zap.Strings("entities", inc.GetEntityKeys()))
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
