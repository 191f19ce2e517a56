package ports

import (
	"context"
	"fmt"
	"time"

	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// deadLetter terminates m with a copy on DEADLETTER (service "correlator", reason) and counts
// it in mt when set; when the copy cannot be stored it logs that and leaves m for redelivery
// in 5s, so nothing is given up without its copy. Every consumer of the correlator gives up a
// message through it.
func deadLetter(ctx context.Context, js jetstream.JetStream, mt *metrics.Metrics, log *zap.Logger, m jetstream.Msg, reason, cause string) {
	dl := natsx.DeadLetterMsg("correlator", reason, m.Data(), cause, "subject "+m.Subject())
	if _, err := js.PublishMsg(ctx, dl); err != nil {
		log.Error("dead-letter publish failed; leaving message pending", zap.String("subject", m.Subject()), logx.Err(err))
		_ = m.NakWithDelay(5 * time.Second)
		return
	}
	_ = m.TermWithReason(reason + ": " + cause)
	if mt != nil {
		mt.DeadLetters.WithLabelValues("correlator", reason).Inc()
	}
}

// retryOrGiveUp naks m with a delay that grows with its deliveries or, at the limit-th delivery
// (limit > 0; 0 retries forever), logs what failed with fields and dead-letters m under reason,
// so a message no attempt can handle does not come back forever. It reports whether m was
// given up. Every consumer of the correlator retries a message through it.
func retryOrGiveUp(ctx context.Context, js jetstream.JetStream, mt *metrics.Metrics, log *zap.Logger, m jetstream.Msg,
	limit int, reason, what string, cause error, fields ...zap.Field) bool {
	delivered := natsx.Delivered(m)
	if limit <= 0 || delivered < uint64(limit) {
		_ = m.NakWithDelay(natsx.RetryDelay(delivered))
		return false
	}
	log.Error(what+" still failing at its last delivery; dead-lettered",
		append(fields, zap.Uint64("delivered", delivered), logx.Err(cause))...)
	deadLetter(ctx, js, mt, log, m, reason, fmt.Sprintf("still failing at delivery %d of %d: %v", delivered, limit, cause))
	return true
}
