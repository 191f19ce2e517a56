package ports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/adjoin/adjoin/pkg/logx"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// IncidentStore keeps incidents and publishes their changes.
type IncidentStore interface {
	Save(ctx context.Context, inc *adjoinv1.Incident) (prev *adjoinv1.Incident, changed bool, err error)
	MarkMerged(ctx context.Context, id, into string) error
}

// IncidentBuilder follows the CORRELATED stream and keeps incidents up to date. It reads with
// one durable consumer allowing a single message in flight, so across all correlator instances
// incidents are built one alert at a time, each step seeing the counts of every alert
// correlated before it: the last alert of an incident always sees the whole incident.
//
// Ack rule: success → Ack; undecodable → Term (the correlator wrote it, so this is a bug, and
// the dead-letter copy keeps it); store failure → NakWithDelay (1s doubling up to 32s), and at
// the MaxDeliveries-th delivery Term with a copy on DEADLETTER ("incident-failed"): with one
// message in flight, a message no attempt can handle would otherwise stop every incident.
type IncidentBuilder struct {
	JS      jetstream.JetStream
	Durable string
	Grouper *domain.Grouper
	Store   IncidentStore
	Log     *zap.Logger
	// MaxDeliveries is the delivery at which a failing message is given up (default 10).
	MaxDeliveries int
}

// Run builds incidents until ctx ends.
func (b *IncidentBuilder) Run(ctx context.Context) error {
	cons, err := b.JS.CreateOrUpdateConsumer(ctx, natsx.StreamCorrelated, jetstream.ConsumerConfig{
		Durable:        b.Durable,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        30 * time.Second,
		MaxAckPending:  1,
		FilterSubjects: []string{natsx.SubjectCorrelatedUser + ".*", natsx.SubjectCorrelatedComputer + ".*"},
	})
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() == nil {
				sleep(ctx, time.Second)
			}
			continue
		}
		for m := range batch.Messages() {
			b.handle(ctx, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
			b.Log.Debug("fetch ended early", logx.Err(err))
		}
	}
	return nil
}

func (b *IncidentBuilder) handle(ctx context.Context, m jetstream.Msg) {
	var c adjoinv1.CorrelatedAlert
	if err := natsx.Decode(m.Headers(), m.Data(), &c); err != nil {
		dl := natsx.DeadLetterMsg("correlator", "undecodable-correlated", m.Data(), err.Error(), "subject "+m.Subject())
		if _, perr := b.JS.PublishMsg(ctx, dl); perr != nil {
			_ = m.NakWithDelay(5 * time.Second)
			return
		}
		_ = m.TermWithReason("undecodable correlated alert: " + err.Error())
		return
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if err := b.build(hctx, &c); err != nil {
		delivered, limit := natsx.Delivered(m), b.MaxDeliveries
		if limit <= 0 {
			limit = 10
		}
		if delivered < uint64(limit) {
			b.Log.Warn("building incident failed; will retry", zap.String("alert_id", c.GetAlert().GetId()),
				zap.Uint64("delivered", delivered), logx.Err(err))
			_ = m.NakWithDelay(natsx.RetryDelay(delivered))
			return
		}
		b.Log.Error("building incident still failing at its last delivery; dead-lettered", zap.String("alert_id", c.GetAlert().GetId()),
			zap.Uint64("delivered", delivered), logx.Err(err))
		cause := fmt.Sprintf("still failing at delivery %d of %d: %v", delivered, limit, err)
		if _, perr := b.JS.PublishMsg(ctx, natsx.DeadLetterMsg("correlator", "incident-failed", m.Data(), cause, "subject "+m.Subject())); perr != nil {
			_ = m.NakWithDelay(5 * time.Second)
			return
		}
		_ = m.TermWithReason("incident-failed: " + cause)
		return
	}
	_ = m.Ack()
}

func (b *IncidentBuilder) build(ctx context.Context, c *adjoinv1.CorrelatedAlert) error {
	inc, err := b.Grouper.Group(ctx, c.GetAlert().GetId(), []string{c.GetEntityKey()})
	if err != nil || inc == nil {
		return err
	}
	prev, changed, err := b.Store.Save(ctx, inc)
	if err != nil || !changed {
		return err
	}
	grew := len(inc.GetAlertIds()) - len(prev.GetAlertIds())
	if prev != nil && grew <= 1 {
		return nil
	}
	// More than one alert joined at once: two incidents met. Every incident named after one of
	// this incident's alerts now belongs to it.
	for _, id := range inc.GetAlertIds() {
		if err := b.Store.MarkMerged(ctx, natsx.HashID("incident", id), inc.GetId()); err != nil {
			return err
		}
	}
	if len(inc.GetAlertIds()) > 1 {
		b.Log.Info("incident changed", zap.String("incident", inc.GetId()), zap.Int("alerts", len(inc.GetAlertIds())),
			zap.Strings("entities", inc.GetEntityKeys()))
	}
	return nil
}
