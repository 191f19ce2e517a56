package consume

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// deadLetter terminates m with a copy on DEADLETTER under reason. When the copy cannot be
// stored, m is left pending and redelivered in 5s: nothing is given up without its copy.
func (r *Runner) deadLetter(ctx context.Context, m jetstream.Msg, reason, cause string) {
	if err := r.publishDeadLetter(ctx, m, reason, cause); err != nil {
		r.Log.Error("dead-letter publish failed; leaving the message pending", zap.String("subject", m.Subject()), logx.Err(err))
		_ = m.NakWithDelay(5 * time.Second)
		return
	}
	_ = m.TermWithReason(reason + ": " + cause)
}

// publishDeadLetter stores a copy of m on deadletter.<Service>.<reason> and counts it.
func (r *Runner) publishDeadLetter(ctx context.Context, m jetstream.Msg, reason, cause string) error {
	dl := natsx.DeadLetterMsg(r.Service, reason, m.Data(), cause, "subject "+m.Subject())
	if _, err := r.JS.PublishMsg(ctx, dl); err != nil {
		return err
	}
	if r.Metrics != nil {
		r.Metrics.DeadLetters.WithLabelValues(r.Service, reason).Inc()
	}
	return nil
}
