package ports

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
	"github.com/adjoin/adjoin/services/correlator/internal/wire"
)

// replayIdle is how long a replay waits for the next message the stream said it had.
const replayIdle = 10 * time.Second

// correlatedSubjects are the copies of alerts counted on an entity.
var correlatedSubjects = []string{natsx.SubjectCorrelatedUser + ".*", natsx.SubjectCorrelatedComputer + ".*"}

// idleCatchUp is how often a builder that receives nothing (a standby, or all is quiet) catches
// up, so that taking over replays seconds of CORRELATED, not everything since it started: a
// replay longer than PinnedTTL would lose the pin it was made for.
const idleCatchUp = 10 * time.Second

// catchUp feeds the window every correlated copy it may have missed, up to where CORRELATED
// ends now: the first time, those published in the window's Memory before now; after that,
// those after the last message an earlier catch-up read (what another builder handled while
// this one was not pinned), or again Memory before now when that is older. Every message the
// builder takes is fed too, and feeding is idempotent, so the overlap is harmless. why is
// logged ("start", "takeover", "idle"); an idle catch-up logs at debug level.
func (b *IncidentBuilder) catchUp(ctx context.Context, why string) error {
	start := time.Now()
	b.caught = start
	w := b.Grouper.Alerts
	// Each request is bounded: catchUp runs under the builder's run context, and a request a
	// leader change leaves unanswered would hold the builder for good.
	rctx, cancel := natsx.RequestContext(ctx)
	defer cancel()
	st, err := b.JS.Stream(rctx, natsx.StreamCorrelated)
	if err != nil {
		return fmt.Errorf("stream %s: %w", natsx.StreamCorrelated, err)
	}
	last := st.CachedInfo().State.LastSeq
	if b.replayed && b.seq >= last {
		return nil
	}
	since := b.now().Add(-w.Span())
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: correlatedSubjects, DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime: &since, InactiveThreshold: 30 * time.Second}
	if b.replayed {
		// Resume after the last message read, unless that one is older than the memory.
		if m, err := st.GetMsg(rctx, b.seq+1); err == nil && m.Time.After(since) {
			cfg.DeliverPolicy, cfg.OptStartTime, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, nil, b.seq+1
		}
	}
	cancel()
	rctx, cancel = natsx.RequestContext(ctx)
	defer cancel()
	cons, err := b.JS.OrderedConsumer(rctx, natsx.StreamCorrelated, cfg)
	if err != nil {
		return fmt.Errorf("replaying %s: %w", natsx.StreamCorrelated, err)
	}
	// A replay's consumer is deleted when it is done, not left for the server to drop after
	// its inactive threshold: a standby catching up every 10 s would otherwise keep several.
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = b.JS.DeleteConsumer(dctx, natsx.StreamCorrelated, cons.CachedInfo().Name)
	}()
	info, err := cons.Info(rctx)
	if err != nil {
		return fmt.Errorf("replaying %s: %w", natsx.StreamCorrelated, err)
	}
	read, taken, end := 0, 0, last
	if info.NumPending > 0 {
		if read, taken, end, err = replay(ctx, cons, w, last); err != nil {
			return err
		}
	}
	level := zap.InfoLevel
	if why == "idle" {
		level = zap.DebugLevel
	}
	b.Log.Log(level, "incident window caught up", zap.String("why", why), zap.Int("messages", read), zap.Int("changed", taken),
		zap.Int("alerts_held", w.Len()), zap.Uint64("from_seq", cfg.OptStartSeq), zap.Time("since", since), zap.Uint64("to_seq", end),
		zap.Duration("took", time.Since(start)))
	b.seq, b.replayed = end, true
	return nil
}

// replay feeds w from cons until the message at or past last, or the last one cons has. It
// returns the messages read, how many changed the window, and the last stream sequence read.
func replay(ctx context.Context, cons jetstream.Consumer, w *domain.AlertWindow, last uint64) (int, int, uint64, error) {
	it, err := cons.Messages(jetstream.PullMaxMessages(1024))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("replaying %s: %w", natsx.StreamCorrelated, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	read, taken := 0, 0
	for {
		m, err := it.Next(jetstream.NextMaxWait(replayIdle))
		if err != nil {
			if ctx.Err() != nil {
				return read, taken, 0, ctx.Err()
			}
			return read, taken, 0, fmt.Errorf("replaying %s after %d messages: %w", natsx.StreamCorrelated, read, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return read, taken, 0, err
		}
		read++
		var c adjoinv1.CorrelatedAlert
		// An undecodable copy is the durable's to dead-letter; here it is only skipped.
		if wire.DecodeForIncidents(m.Headers().Get(natsx.HeaderType), m.Data(), &c) == nil {
			if a, ok := domain.AlertOf(&c); ok && w.Add(a) {
				taken++
			}
		}
		if seq := meta.Sequence.Stream; seq >= last || meta.NumPending == 0 {
			return read, taken, max(seq, last), nil
		}
	}
}
