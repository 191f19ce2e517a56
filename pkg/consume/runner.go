package consume

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// Handler handles one batch within ctx, settling its messages itself or by what it returns
// (see the package doc).
type Handler func(ctx context.Context, b *Batch) error

// Defaults of Runner.
const (
	DefaultBatch   = 256
	DefaultMaxWait = time.Second
	// MaxBatch bounds Runner.Batch: a batch is held in memory and settled at once.
	MaxBatch = 4096
)

// failedPulls is how many pulls in a row may fail before the consumer is configured again.
const failedPulls = 3

// Runner fetches from one durable pull consumer and hands the batches to Handle until ctx ends.
type Runner struct {
	// Consumer creates (or updates) the durable; Run calls it first, and again whenever pulls
	// keep failing.
	Consumer func(ctx context.Context) (jetstream.Consumer, error)
	// Name names the consumer in logs.
	Name   string
	Handle Handler
	JS     jetstream.JetStream
	// Service is the dead letters' service: their subject deadletter.<Service>.<reason> and
	// the service label of adjoin_deadletters_total.
	Service string
	// FailReason is the dead-letter reason of a message still failing at its MaxDeliveries-th
	// delivery (default "max-deliveries").
	FailReason string
	// MaxDeliveries is that delivery (0: natsx.MaxDeliveries).
	MaxDeliveries int
	// AckWait is the consumer's (0: natsx.AckWait); a batch gets two thirds of it.
	AckWait time.Duration
	// Batch is the most messages fetched at once (default DefaultBatch, at most MaxBatch).
	Batch int
	// MaxWait is how long an idle fetch waits for messages (default DefaultMaxWait).
	MaxWait time.Duration
	// Eager hands the messages of a fetch over as soon as one is there, with every other
	// already received, instead of once the fetch is full or expired: a lone message does not
	// wait for the fetch to end, and a busy consumer still gets large batches.
	Eager bool
	// InFlight is how many batches are fetched and handled at once (default 1).
	InFlight int
	// Group is the priority group pulled from ("" for none).
	Group string
	// OnPinLost, when set, is called when a pull learns that another client holds the pin of
	// the group: what this one holds may be stale.
	OnPinLost func()
	// OnIdle, when set, is called after a fetch that brought nothing.
	OnIdle func(ctx context.Context)
	// Metrics, when set, counts the dead letters.
	Metrics *metrics.Metrics
	Log     *zap.Logger
}

func (r *Runner) withDefaults() *Runner {
	d := *r
	if d.FailReason == "" {
		d.FailReason = "max-deliveries"
	}
	if d.MaxDeliveries <= 0 {
		d.MaxDeliveries = natsx.MaxDeliveries
	}
	if d.AckWait <= 0 {
		d.AckWait = natsx.AckWait
	}
	if d.Batch <= 0 {
		d.Batch = DefaultBatch
	}
	d.Batch = min(d.Batch, MaxBatch)
	if d.MaxWait <= 0 {
		d.MaxWait = DefaultMaxWait
	}
	d.InFlight = max(d.InFlight, 1)
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	d.Log = d.Log.With(zap.String("consumer", d.Name))
	return &d
}

// Run consumes until ctx ends, then returns once every batch in hand is settled. It fails
// only when the server refuses to create the consumer (see create).
func (r *Runner) Run(ctx context.Context) error {
	cfg := r.withDefaults()
	cons, err := cfg.create(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return fmt.Errorf("consumer %s: %w", cfg.Name, err)
	}
	var wg sync.WaitGroup
	for range cfg.InFlight {
		wg.Go(func() { cfg.loop(ctx, cons) })
	}
	wg.Wait()
	return nil
}

// create calls Consumer until it succeeds, the server refuses it (an API error under 500: the
// stream missing, a configuration it does not take), or ctx ends. A failure without an answer
// or with a 5xx one (a leader being elected, a server restarting) is retried every second:
// a service starting while its cluster recovers waits for it rather than exiting.
func (r *Runner) create(ctx context.Context) (jetstream.Consumer, error) {
	for {
		cons, err := r.configure(ctx)
		var apiErr *jetstream.APIError
		if err == nil || ctx.Err() != nil || (errors.As(err, &apiErr) && apiErr.Code < 500) {
			return cons, err
		}
		r.Log.Warn("creating the consumer failed; retrying", logx.Err(err))
		sleep(ctx, time.Second)
	}
}

// configure calls Consumer, bounded by natsx.RequestTimeout: an unanswered creation request
// would otherwise hold the loop for good.
func (r *Runner) configure(ctx context.Context) (jetstream.Consumer, error) {
	rctx, cancel := natsx.RequestContext(ctx)
	defer cancel()
	return r.Consumer(rctx)
}

// loop fetches and handles batches until ctx ends.
func (r *Runner) loop(ctx context.Context, cons jetstream.Consumer) {
	opts := []jetstream.FetchOpt{jetstream.FetchMaxWait(r.MaxWait)}
	if r.Group != "" {
		opts = append(opts, jetstream.FetchPriorityGroup(r.Group))
	}
	failed := 0
	for ctx.Err() == nil {
		batch, err := cons.Fetch(r.Batch, opts...)
		if err != nil {
			if ctx.Err() == nil {
				cons = r.pullFailed(ctx, cons, &failed, err, false)
			}
			continue
		}
		n := r.take(ctx, batch.Messages())
		var apiErr *jetstream.APIError
		switch err := batch.Error(); {
		case err == nil, errors.Is(err, jetstream.ErrNoMessages), ctx.Err() != nil:
			failed = 0
		case errors.Is(err, jetstream.ErrPinIDMismatch):
			if r.OnPinLost != nil {
				r.OnPinLost()
			}
		case errors.As(err, &apiErr):
			cons = r.pullFailed(ctx, cons, &failed, err, true)
		default:
			cons = r.pullFailed(ctx, cons, &failed, err, false)
		}
		if n == 0 && r.OnIdle != nil && ctx.Err() == nil {
			r.OnIdle(ctx)
		}
	}
}

// pullFailed counts a failed pull and waits a second; at the failedPulls-th in a row, or at
// once when the server refused the pull, it configures the consumer again and returns it.
func (r *Runner) pullFailed(ctx context.Context, cons jetstream.Consumer, failed *int, err error, refused bool) jetstream.Consumer {
	defer sleep(ctx, time.Second)
	if *failed++; *failed < failedPulls && !refused {
		r.Log.Debug("fetch ended early", logx.Err(err))
		return cons
	}
	r.Log.Warn("pulls keep failing or were refused; configuring the consumer again", logx.Err(err))
	cc, cerr := r.configure(ctx)
	if cerr != nil {
		r.Log.Debug("configuring the consumer again failed", logx.Err(cerr))
		return cons
	}
	*failed = 0
	return cc
}

// take hands the messages of one fetch to handle and returns how many there were. Messages
// that come after ctx ended are handed back at once.
func (r *Runner) take(ctx context.Context, msgs <-chan jetstream.Msg) int {
	n := 0
	if !r.Eager {
		var all []jetstream.Msg
		for m := range msgs {
			all = append(all, m)
		}
		r.handle(ctx, all)
		return len(all)
	}
	for m := range msgs {
		chunk := []jetstream.Msg{m}
	more:
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					break more
				}
				chunk = append(chunk, m)
			default:
				break more
			}
		}
		n += len(chunk)
		r.handle(ctx, chunk)
	}
	return n
}

// handle runs the handler on msgs, settles what it left, and logs the retries once.
func (r *Runner) handle(ctx context.Context, msgs []jetstream.Msg) {
	if len(msgs) == 0 {
		return
	}
	if ctx.Err() != nil {
		for _, m := range msgs {
			_ = m.Nak()
		}
		return
	}
	// The batch is finished even if shutdown begins, within a deadline shorter than AckWait.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.AckWait*2/3)
	defer cancel()
	b := &Batch{Msgs: msgs, r: r, ctx: hctx, settled: make(map[jetstream.Msg]bool, len(msgs))}
	b.Settle(r.Handle(hctx, b))
	if b.failed > 0 {
		r.Log.Warn("handling failed; the messages will be redelivered", zap.Int("messages", b.failed),
			zap.Duration("retry_in", b.delay), logx.Err(b.err))
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
