package consume_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/consume"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// rig is a test server with a WORK stream and a runner on its durable "work".
type rig struct {
	s   *natstest.Server
	ctx context.Context
}

func newRig(t *testing.T) *rig {
	t.Helper()
	s := natstest.Start(t)
	ctx := context.Background()
	if _, err := s.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "WORK", Subjects: []string{"work.>"}}); err != nil {
		t.Fatal(err)
	}
	return &rig{s: s, ctx: ctx}
}

// runner is a runner of handle on the durable "work" with MaxDeliveries 2.
func (r *rig) runner(handle consume.Handler) *consume.Runner {
	return &consume.Runner{
		Consumer: func(ctx context.Context) (jetstream.Consumer, error) {
			return r.s.JS.CreateOrUpdateConsumer(ctx, "WORK", jetstream.ConsumerConfig{Durable: "work",
				AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: -1})
		},
		Name: "work", Handle: handle, JS: r.s.JS, Service: "test", MaxDeliveries: 2, Log: zap.NewNop(),
	}
}

// start runs run until the test ends, and checks that it then returns nil within 10s.
func (r *rig) start(t *testing.T, run *consume.Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan error, 1)
	go func() { done <- run.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of cancel")
		}
	})
	t.Cleanup(stop)
	return stop
}

func (r *rig) publish(t *testing.T, subjects ...string) {
	t.Helper()
	for _, s := range subjects {
		if _, err := r.s.JS.Publish(r.ctx, s, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
}

// settled reports an error until the durable has nothing pending or awaiting an ack.
func (r *rig) settled() error {
	c, err := r.s.JS.Consumer(r.ctx, "WORK", "work")
	if err != nil {
		return err
	}
	info, err := c.Info(r.ctx)
	if err != nil {
		return err
	}
	if info.NumPending != 0 || info.NumAckPending != 0 {
		return fmt.Errorf("%d pending, %d awaiting ack", info.NumPending, info.NumAckPending)
	}
	return nil
}

// deadLetter returns the error header of the last dead letter under reason.
func (r *rig) deadLetter(reason string) (string, error) {
	dl, err := r.s.JS.Stream(r.ctx, natsx.StreamDeadLetter)
	if err != nil {
		return "", err
	}
	m, err := dl.GetLastMsgForSubject(r.ctx, "deadletter.test."+reason)
	if err != nil {
		return "", fmt.Errorf("dead letter %s: %w", reason, err)
	}
	return m.Header.Get(natsx.HeaderError), nil
}

func eventually(t *testing.T, within time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestContract: per message, nil acks; an error retries until the MaxDeliveries-th delivery,
// then dead-letters under FailReason with the cause; Reject dead-letters at once. Every dead
// letter is counted.
func TestContract(t *testing.T) {
	r := newRig(t)
	var mu sync.Mutex
	seen := map[string]int{}
	run := r.runner(consume.EachMessage(func(_ context.Context, m jetstream.Msg) error {
		mu.Lock()
		seen[m.Subject()]++
		mu.Unlock()
		switch m.Subject() {
		case "work.fails":
			return errors.New("store refuses it")
		case "work.garbage":
			return consume.Reject("undecodable", errors.New("not a thing"))
		}
		return nil
	}))
	run.Metrics = metrics.New()
	r.start(t, run)
	r.publish(t, "work.ok", "work.fails", "work.garbage", "work.ok2")
	eventually(t, 15*time.Second, r.settled)
	mu.Lock()
	want := map[string]int{"work.ok": 1, "work.fails": 2, "work.garbage": 1, "work.ok2": 1}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("deliveries %v, want %v", seen, want)
	}
	mu.Unlock()
	tests := []struct{ reason, want string }{
		{"max-deliveries", "still failing at delivery 2 of 2: store refuses it"},
		{"undecodable", "not a thing"},
	}
	for _, tt := range tests {
		got, err := r.deadLetter(tt.reason)
		if err != nil || got != tt.want {
			t.Errorf("dead letter %s: %q (%v), want %q", tt.reason, got, err, tt.want)
		}
		if n := testutil.ToFloat64(run.Metrics.DeadLetters.WithLabelValues("test", tt.reason)); n != 1 {
			t.Errorf("adjoin_deadletters_total{reason=%q} = %v, want 1", tt.reason, n)
		}
	}
}

// TestBatchHandler: a batch handler settles some messages itself (Later hands one back
// without failing it), acknowledges the rest with Settle before work that follows the acks,
// and a returned error retries what is left.
func TestBatchHandler(t *testing.T) {
	r := newRig(t)
	var mu sync.Mutex
	deliveries := map[string]int{}
	r.start(t, r.runner(func(ctx context.Context, b *consume.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range b.Msgs {
			deliveries[m.Subject()]++
			switch {
			case m.Subject() == "work.later" && deliveries[m.Subject()] < 4:
				b.Later(m, 0) // never counted a failure: 3 hand-backs, no dead letter
			case m.Subject() == "work.flaky" && deliveries[m.Subject()] == 1:
				return errors.New("flaky once")
			}
		}
		b.Settle(nil)
		return errors.New("after Settle, changes nothing")
	}))
	r.publish(t, "work.later", "work.a", "work.flaky", "work.b")
	// Settled only counts once the handler has seen the last hand-back: under load the
	// durable's info can read settled before the runner's first fetch (seen once in make test).
	eventually(t, 15*time.Second, func() error {
		mu.Lock()
		seen := deliveries["work.later"]
		mu.Unlock()
		if seen < 4 {
			return fmt.Errorf("work.later delivered %d times", seen)
		}
		return r.settled()
	})
	mu.Lock()
	defer mu.Unlock()
	if deliveries["work.later"] != 4 || deliveries["work.flaky"] != 2 || deliveries["work.b"] != 1 {
		t.Errorf("deliveries %v: want work.later 4, work.flaky 2, work.b 1", deliveries)
	}
	if _, err := r.deadLetter("max-deliveries"); err == nil {
		t.Error("a message handed back with Later was dead-lettered")
	}
}

// TestRecreatesDeletedDurable: pulls from a deleted durable fail; the runner configures it
// again through Consumer and goes on.
func TestRecreatesDeletedDurable(t *testing.T) {
	r := newRig(t)
	var mu sync.Mutex
	var got []string
	r.start(t, r.runner(consume.EachMessage(func(_ context.Context, m jetstream.Msg) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m.Subject())
		return nil
	})))
	r.publish(t, "work.before")
	eventually(t, 10*time.Second, r.settled)
	if err := r.s.JS.DeleteConsumer(r.ctx, "WORK", "work"); err != nil {
		t.Fatal(err)
	}
	r.publish(t, "work.after")
	eventually(t, 20*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range got {
			if s == "work.after" {
				return nil
			}
		}
		return fmt.Errorf("handled %q, not work.after", got)
	})
}

// TestStopFinishesTheBatchInHand: ctx ends while the handler holds a batch. Run returns only
// once the handler finished and its acknowledgements are stored, and the handler's ctx did
// not end with the run's.
func TestStopFinishesTheBatchInHand(t *testing.T) {
	r := newRig(t)
	got, release := make(chan struct{}), make(chan struct{})
	handlerCtx := make(chan error, 1)
	stop := r.start(t, r.runner(func(ctx context.Context, b *consume.Batch) error {
		close(got)
		<-release
		handlerCtx <- ctx.Err()
		return nil
	}))
	r.publish(t, "work.1", "work.2")
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no batch handled")
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Run returned with a batch in hand")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	<-stopped
	if err := <-handlerCtx; err != nil {
		t.Errorf("the handler's ctx ended with the run's: %v", err)
	}
	if err := r.settled(); err != nil {
		t.Errorf("after Run returned: %v", err)
	}
}

// TestBatchBound: a Batch past MaxBatch fetches MaxBatch at most.
func TestBatchBound(t *testing.T) {
	r := newRig(t)
	total := consume.MaxBatch + 100
	for i := range total {
		if _, err := r.s.JS.PublishAsync("work."+strconv.Itoa(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	<-r.s.JS.PublishAsyncComplete()
	var mu sync.Mutex
	largest, seen := 0, 0
	run := r.runner(func(_ context.Context, b *consume.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		largest, seen = max(largest, len(b.Msgs)), seen+len(b.Msgs)
		return nil
	})
	run.Batch = 10 * consume.MaxBatch
	r.start(t, run)
	eventually(t, 30*time.Second, r.settled)
	mu.Lock()
	defer mu.Unlock()
	if largest > consume.MaxBatch || seen != total {
		t.Errorf("largest batch %d (bound %d), %d handled of %d", largest, consume.MaxBatch, seen, total)
	}
}

// TestCreateWaitsForTheCluster: creating the consumer fails without an answer (a leader being
// elected) twice, then succeeds: Run waits and consumes. A missing stream fails Run at once.
func TestCreateWaitsForTheCluster(t *testing.T) {
	r := newRig(t)
	handled := make(chan struct{}, 1)
	run := r.runner(consume.EachMessage(func(context.Context, jetstream.Msg) error {
		select {
		case handled <- struct{}{}:
		default:
		}
		return nil
	}))
	create, calls := run.Consumer, 0
	run.Consumer = func(ctx context.Context) (jetstream.Consumer, error) {
		if calls++; calls <= 2 {
			return nil, fmt.Errorf("consumer: %w", context.DeadlineExceeded)
		}
		return create(ctx)
	}
	r.start(t, run)
	r.publish(t, "work.1")
	select {
	case <-handled:
	case <-time.After(15 * time.Second):
		t.Fatal("nothing handled after creation failed twice")
	}

	missing := r.runner(nil)
	missing.Consumer = func(ctx context.Context) (jetstream.Consumer, error) {
		return r.s.JS.CreateOrUpdateConsumer(ctx, "NOSUCH", jetstream.ConsumerConfig{Durable: "work"})
	}
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	if err := missing.Run(ctx); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("Run without a stream = %v, want ErrStreamNotFound", err)
	}
}

// TestOutageIsNeverGivenUp: a handler failing with an outage (a publish not acknowledged in
// time) past MaxDeliveries is handed back again, not dead-lettered; once NATS answers, the
// message is handled and acknowledged.
func TestOutageIsNeverGivenUp(t *testing.T) {
	r := newRig(t)
	var mu sync.Mutex
	tries := 0
	run := r.runner(consume.EachMessage(func(_ context.Context, m jetstream.Msg) error {
		mu.Lock()
		defer mu.Unlock()
		if tries++; tries <= 3 { // MaxDeliveries is 2
			return fmt.Errorf("correlated copy: waiting for acknowledgement: %w", context.DeadlineExceeded)
		}
		return nil
	}))
	run.Metrics = metrics.New()
	r.start(t, run)
	r.publish(t, "work.slow")
	eventually(t, 30*time.Second, r.settled)
	mu.Lock()
	if tries != 4 {
		t.Errorf("handled %d times, want 4 (three outages, then success)", tries)
	}
	mu.Unlock()
	if n := testutil.ToFloat64(run.Metrics.DeadLetters.WithLabelValues("test", "max-deliveries")); n != 0 {
		t.Errorf("%v dead letters for an outage", n)
	}
}
