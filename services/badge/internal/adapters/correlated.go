package adapters

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// CorrelatedStream reads the CORRELATED stream for timelines and the resumable stream.
type CorrelatedStream struct {
	JS jetstream.JetStream
}

var _ app.Correlated = CorrelatedStream{}

// Alerts implements app.Correlated.
func (c CorrelatedStream) Alerts(ctx context.Context, subject string) ([]*adjoinv1.Alert, error) {
	s, err := c.JS.Stream(ctx, natsx.StreamCorrelated)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", natsx.StreamCorrelated, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", natsx.StreamCorrelated, err)
	}
	want := int(info.State.Subjects[subject])
	if want == 0 {
		return nil, nil
	}
	// One ephemeral consumer per call: removed when the call is done (and by the server after
	// a short idle time if that fails), so that a client polling an entity's alerts does not
	// pile up consumers on CORRELATED until the server refuses new ones.
	cons, err := c.createConsumer(ctx, func(ctx context.Context) (jetstream.Consumer, error) {
		return s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject},
			InactiveThreshold: 10 * time.Second})
	})
	if err != nil {
		return nil, err
	}
	defer c.deleteConsumer(cons)
	var out []*adjoinv1.Alert
	for len(out) < want {
		batch, err := cons.Fetch(min(want-len(out), 500), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var ca adjoinv1.CorrelatedAlert
			if err := natsx.Decode(m.Headers(), m.Data(), &ca); err != nil {
				return nil, fmt.Errorf("%s: %w", subject, err)
			}
			out = append(out, ca.GetAlert())
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, err
		}
		if n == 0 {
			break // fewer than counted: some expired meanwhile
		}
	}
	return out, nil
}

// followIdle is how long the server keeps a stream's consumer once nothing pulls from it: the
// fallback that removes consumers whose call could not delete them (NATS down at the time, the
// process killed). A live call pulls all along, so it never idles that long.
const followIdle = 30 * time.Second

// Follow implements app.Correlated. The consumer it creates is deleted when it returns,
// whatever ended the call, so that short calls repeated by a client do not pile up consumers on
// CORRELATED until the server refuses new ones for everybody.
func (c CorrelatedStream) Follow(ctx context.Context, subjects []string, cursor uint64, newOnly bool,
	fn func(seq uint64, subject string, ca *adjoinv1.CorrelatedAlert) error) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: subjects, DeliverPolicy: jetstream.DeliverAllPolicy,
		InactiveThreshold: followIdle}
	switch {
	case cursor > 0:
		// A cursor this service never gave out (past the last stored message, or from a stream
		// since recreated) would otherwise silently start at the end, or fail to create.
		s, err := c.JS.Stream(ctx, natsx.StreamCorrelated)
		if err != nil {
			return fmt.Errorf("stream %s: %w", natsx.StreamCorrelated, err)
		}
		if last := s.CachedInfo().State.LastSeq; cursor > last {
			return fmt.Errorf("%w: cursor %d, the stream's last message is %d; resume from 0 or with new_only",
				app.ErrCursor, cursor, last)
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, cursor+1
	case newOnly:
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	cons, err := c.createConsumer(ctx, func(ctx context.Context) (jetstream.Consumer, error) {
		return c.JS.OrderedConsumer(ctx, natsx.StreamCorrelated, cfg)
	})
	if err != nil {
		return fmt.Errorf("follow %s: %w", natsx.StreamCorrelated, err)
	}
	it, err := cons.Messages()
	if err != nil {
		c.deleteConsumer(cons)
		return err
	}
	defer func() {
		it.Stop()
		c.deleteConsumer(cons)
	}()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		var ca adjoinv1.CorrelatedAlert
		if err := natsx.Decode(m.Headers(), m.Data(), &ca); err != nil {
			return fmt.Errorf("correlated message %d: %w", meta.Sequence.Stream, err)
		}
		if err := fn(meta.Sequence.Stream, m.Subject(), &ca); err != nil {
			return err
		}
	}
}

// createConsumer runs create, which makes a consumer on the server, to its end even when the
// call is cancelled meanwhile (a client hanging up right away): cut short, the request may have
// created the consumer without this side learning its name, leaving it for the idle threshold.
func (c CorrelatedStream) createConsumer(ctx context.Context, create func(context.Context) (jetstream.Consumer, error)) (jetstream.Consumer, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	cons, err := create(cctx)
	switch {
	case err == nil && ctx.Err() != nil:
		c.deleteConsumer(cons)
		return nil, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		// NATS did not answer, not the caller's deadline: an outage for this call.
		return nil, fmt.Errorf("%w: creating a consumer took over 5s (%v)", nats.ErrTimeout, err)
	}
	return cons, err
}

// deleteConsumer removes an ordered consumer's current server-side consumer (those it replaced
// along the way were deleted as it replaced them). It runs after the call's context ended, so it
// has its own short deadline; if it fails, followIdle removes the consumer later.
func (c CorrelatedStream) deleteConsumer(cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.JS.DeleteConsumer(ctx, natsx.StreamCorrelated, info.Name)
}
