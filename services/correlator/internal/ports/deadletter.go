package ports

import (
	"context"
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
