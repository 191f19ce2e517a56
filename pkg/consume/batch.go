package consume

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// Batch is the messages of one fetch in the hands of a Handler, and what became of each. A
// message is settled once: the first of Ack, Retry, Reject or Later counts, later calls are
// ignored.
type Batch struct {
	// Msgs are the messages, in the order they were delivered.
	Msgs []jetstream.Msg

	r       *Runner
	ctx     context.Context
	settled map[jetstream.Msg]bool
	// failed counts the messages Retry handed back, err the first cause and delay its wait:
	// logged once per batch, not once per message.
	failed int
	err    error
	delay  time.Duration
}

// Ack acknowledges m.
func (b *Batch) Ack(m jetstream.Msg) {
	if !b.settle(m) {
		return
	}
	if err := m.Ack(); err != nil {
		b.r.Log.Warn("ack failed; the message will be redelivered", zap.String("subject", m.Subject()), logx.Err(err))
	}
}

// Retry hands m back after a delay that grows with its deliveries (1s doubling up to 32s), or
// at its MaxDeliveries-th delivery terminates it with a copy on DEADLETTER under FailReason,
// unless cause is an outage (natsx.IsOutage): then m always comes back.
// It reports whether m was given up.
func (b *Batch) Retry(m jetstream.Msg, cause error) (gaveUp bool) {
	if !b.settle(m) {
		return false
	}
	delivered, limit := natsx.Delivered(m), b.r.MaxDeliveries
	// An outage (NATS did not answer in time or at all) is not the message's fault: it comes
	// back after the same growing delay, however many times, and is never given up for it.
	if delivered < uint64(limit) || natsx.IsOutage(cause) {
		delay := natsx.RetryDelay(delivered)
		_ = m.NakWithDelay(delay)
		if b.failed++; b.err == nil {
			b.err, b.delay = cause, delay
		}
		return false
	}
	b.r.Log.Error("message still failing at its last delivery; dead-lettered", zap.String("subject", m.Subject()),
		zap.Uint64("delivered", delivered), logx.Err(cause))
	b.r.deadLetter(b.ctx, m, b.r.FailReason, fmt.Sprintf("still failing at delivery %d of %d: %v", delivered, limit, cause))
	return true
}

// Reject terminates m, which no retry can heal, with a copy on DEADLETTER under reason.
func (b *Batch) Reject(m jetstream.Msg, reason string, cause error) {
	if b.settle(m) {
		b.r.deadLetter(b.ctx, m, reason, cause.Error())
	}
}

// Later hands m back for redelivery after delay (at once when 0) without counting it as a
// failure of m's own: the handler could not take it now (its state is reloading, another
// message of the batch failed first).
func (b *Batch) Later(m jetstream.Msg, delay time.Duration) {
	if !b.settle(m) {
		return
	}
	if delay <= 0 {
		_ = m.Nak()
		return
	}
	_ = m.NakWithDelay(delay)
}

// CopyToDeadLetter puts a copy of m on DEADLETTER under reason and leaves m unsettled: part of
// its handling failed (one detector of several), and the rest of it stands.
func (b *Batch) CopyToDeadLetter(m jetstream.Msg, reason string, cause error) {
	b.r.Log.Error("handling a message failed in part; copied to DEADLETTER", zap.String("subject", m.Subject()),
		zap.String("reason", reason), logx.Err(cause))
	if err := b.r.publishDeadLetter(b.ctx, m, reason, cause.Error()); err != nil {
		b.r.Log.Error("dead-letter publish failed", zap.String("subject", m.Subject()), logx.Err(err))
	}
}

// Settle applies the handler contract now to every message not settled yet: Ack when err is
// nil, Reject under its reason when err was made by Reject, Retry otherwise. A handler that has
// more to do once its messages are acknowledged (a snapshot) calls it first.
func (b *Batch) Settle(err error) {
	for _, m := range b.Msgs {
		b.settleBy(m, err)
	}
}

// settleBy settles m, unless it is already, by the handler contract for err.
func (b *Batch) settleBy(m jetstream.Msg, err error) {
	var rejected *rejectError
	switch {
	case b.settled[m]:
	case err == nil:
		b.Ack(m)
	case errors.As(err, &rejected):
		b.Reject(m, rejected.reason, rejected.err)
	default:
		b.Retry(m, err)
	}
}

// settle marks m settled, and reports whether it was not already.
func (b *Batch) settle(m jetstream.Msg) bool {
	if b.settled[m] {
		return false
	}
	b.settled[m] = true
	return true
}

// rejectError is a handler's verdict that a message can never be handled.
type rejectError struct {
	reason string
	err    error
}

func (e *rejectError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *rejectError) Unwrap() error { return e.err }

// Reject is the error a handler returns for messages no retry can heal: they are terminated
// with a copy on DEADLETTER under reason, without waiting for MaxDeliveries.
func Reject(reason string, err error) error { return &rejectError{reason: reason, err: err} }

// EachMessage makes a Handler of a per-message handler: each message of the batch is handled
// alone, in order, and settled by what handle returns (see the package doc).
func EachMessage(handle func(ctx context.Context, m jetstream.Msg) error) Handler {
	return func(ctx context.Context, b *Batch) error {
		for _, m := range b.Msgs {
			b.settleBy(m, handle(ctx, m))
		}
		return nil
	}
}
