package ports

import (
	"context"
	"time"

	"go.uber.org/zap"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
)

// PendingStore keeps alerts whose references did not all resolve.
type PendingStore interface {
	Put(ctx context.Context, a *adjoinv1.Alert) error
	IDs(ctx context.Context) ([]string, error)
	Get(ctx context.Context, id string) (*adjoinv1.Alert, uint64, bool, error)
	Done(ctx context.Context, id string, rev uint64) error
}

// Retrier handles pending alerts again whenever the directory or the logon table learned
// something, so an alert that arrived before a directory sync is counted once the entity is
// known. Handling is idempotent, so retrying an alert on several instances, or after it was
// already placed, changes nothing.
type Retrier struct {
	Pending    PendingStore
	Correlator *app.Correlator
	// Changed returns a value that moves whenever a retry may succeed (directory version,
	// logon count).
	Changed func() uint64
	Every   time.Duration
	Log     *zap.Logger
}

// Run retries until ctx ends. Each round retries every pending alert when the directory or the
// logons changed since the round before, and otherwise only the alerts that became pending
// since then: one may have missed a change that landed while it was being handled.
func (r *Retrier) Run(ctx context.Context) error {
	t := time.NewTicker(r.Every)
	defer t.Stop()
	last := r.Changed()
	seen := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		now := r.Changed()
		ids, err := r.Pending.IDs(ctx)
		if err != nil {
			r.Log.Warn("listing pending alerts failed", logx.Err(err))
			continue
		}
		var retry []string
		for _, id := range ids {
			if now != last || !seen[id] {
				retry = append(retry, id)
			}
		}
		last = now
		seen = make(map[string]bool, len(ids))
		for _, id := range ids {
			seen[id] = true
		}
		// A placed alert whose key is still listed next round was replaced by a newer version
		// while it was being handled (Done left it): that version is new to the retrier.
		for _, id := range r.retry(ctx, retry) {
			delete(seen, id)
		}
	}
}

// retry handles the pending alerts ids, DefaultBatch at a time as the consumer does, and
// returns those it placed.
func (r *Retrier) retry(ctx context.Context, ids []string) []string {
	var placed []string
	for len(ids) > 0 {
		n := min(len(ids), DefaultBatch)
		placed = append(placed, r.retryBatch(ctx, ids[:n])...)
		ids = ids[n:]
	}
	if len(placed) > 0 {
		r.Log.Info("placed pending alerts", zap.Int("placed", len(placed)))
	}
	return placed
}

func (r *Retrier) retryBatch(ctx context.Context, ids []string) []string {
	var alerts []*adjoinv1.Alert
	var keys []string
	var revs []uint64
	for _, id := range ids {
		a, rev, ok, err := r.Pending.Get(ctx, id)
		if err != nil || !ok {
			continue
		}
		alerts, keys, revs = append(alerts, a), append(keys, id), append(revs, rev)
	}
	if len(alerts) == 0 {
		return nil
	}
	var placed []string
	outs, errs := r.Correlator.HandleBatch(ctx, alerts)
	for i, id := range keys {
		if errs[i] != nil {
			r.Log.Warn("retrying pending alert failed", zap.String("alert_id", id), logx.Err(errs[i]))
			continue
		}
		if !outs[i].Pending {
			placed = append(placed, id)
			if err := r.Pending.Done(ctx, id, revs[i]); err != nil {
				r.Log.Warn("clearing pending alert failed", zap.String("alert_id", id), logx.Err(err))
			}
		}
	}
	return placed
}
