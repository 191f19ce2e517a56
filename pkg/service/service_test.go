package service

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/heartbeat"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

func start(t *testing.T, ctx context.Context, s *natstest.Server) *Runtime {
	t.Helper()
	rt, err := Start(ctx, Options{Name: "svctest", NATS: natsx.Settings{ConnectOptions: natsx.ConnectOptions{URL: s.ClientURL()}, Replicas: 1}}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.NC.Close() })
	return rt
}

// TestSIGTERMWaitsForInFlightAcksAndTheClose: SIGTERM arrives while a worker holds a message
// it has not acknowledged yet. Wait returns only after the worker acknowledged it and the
// connection is closed, and the server has the acknowledgement and the "stopped" heartbeat:
// nothing the service finished is lost with the process.
func TestSIGTERMWaitsForInFlightAcksAndTheClose(t *testing.T) {
	s := natstest.Start(t)
	ctx := context.Background()
	stream, err := s.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "SVCTEST", Subjects: []string{"svctest.>"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.JS.Publish(ctx, "svctest.1", []byte("work")); err != nil {
		t.Fatal(err)
	}
	sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGTERM) // as svcmain.Main does
	defer stop()
	rt := start(t, sigCtx, s)

	got, release := make(chan struct{}), make(chan struct{})
	rt.Go(func(ctx context.Context) error {
		cons, err := rt.JS.CreateOrUpdateConsumer(ctx, "SVCTEST", jetstream.ConsumerConfig{Durable: "svctest", AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			return err
		}
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return err
		}
		for m := range batch.Messages() {
			close(got)
			<-release // the work in hand outlives the signal
			if err := m.Ack(); err != nil {
				return err
			}
		}
		return nil
	})
	termWithWorkInHand(t, rt, got, release)
	info, err := stream.Consumer(ctx, "svctest")
	if err != nil {
		t.Fatal(err)
	}
	if ci := info.CachedInfo(); ci.NumAckPending != 0 || ci.AckFloor.Consumer != 1 {
		t.Errorf("ack pending %d, ack floor %d: the acknowledgement was lost", ci.NumAckPending, ci.AckFloor.Consumer)
	}
	beats, err := heartbeat.List(ctx, s.KV(t, natsx.BucketStatus))
	if err != nil || len(beats) != 1 || !beats[0].GetStopped() {
		t.Errorf("heartbeats %v (%v), want one, stopped", beats, err)
	}
}

// TestWorkerErrorStopsTheService: a failing worker ends the others and Wait returns its error.
func TestWorkerErrorStopsTheService(t *testing.T) {
	rt := start(t, context.Background(), natstest.Start(t))
	boom := errors.New("boom")
	stopped := make(chan struct{})
	rt.Go(func(ctx context.Context) error { <-ctx.Done(); close(stopped); return nil })
	rt.Go(func(context.Context) error { return boom })
	if err := rt.Wait(); !errors.Is(err, boom) {
		t.Errorf("Wait = %v, want %v", err, boom)
	}
	select {
	case <-stopped:
	default:
		t.Error("the other worker did not stop")
	}
	if !rt.NC.IsClosed() {
		t.Error("connection not closed")
	}
}

// TestStopAfterFailedWiring: Stop ends the workers started so far and the cleanups run.
func TestStopAfterFailedWiring(t *testing.T) {
	rt := start(t, context.Background(), natstest.Start(t))
	var order []string
	rt.Go(func(ctx context.Context) error { <-ctx.Done(); order = append(order, "worker"); return nil })
	rt.OnStop(func() { order = append(order, "first registered") })
	rt.OnStop(func() { order = append(order, "last registered") })
	cause := errors.New("bucket missing")
	if err := rt.Stop(cause); !errors.Is(err, cause) {
		t.Errorf("Stop = %v, want %v", err, cause)
	}
	if want := []string{"worker", "last registered", "first registered"}; len(order) != 3 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
		t.Errorf("order %q, want %q", order, want)
	}
}

// TestConnectionClosedForGood: a connection closed under the service ends it with
// natsx.ErrConnClosed, and the liveness check fails.
func TestConnectionClosedForGood(t *testing.T) {
	rt := start(t, context.Background(), natstest.Start(t))
	rt.NC.Close()
	if err := rt.Wait(); !errors.Is(err, natsx.ErrConnClosed) {
		t.Errorf("Wait = %v, want ErrConnClosed", err)
	}
	if err := rt.Live()(context.Background()); err == nil {
		t.Error("live with a closed connection")
	}
}

// TestDrainBound: a drain that cannot finish (a subscriber stuck on a message) is cut at the
// bound, and the connection is closed anyway.
func TestDrainBound(t *testing.T) {
	s := natstest.Start(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	stuck := make(chan struct{})
	defer close(stuck)
	if _, err := nc.Subscribe("svctest.stuck", func(*nats.Msg) { <-stuck }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("svctest.stuck", nil); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := drain(nc, 200*time.Millisecond); err == nil {
		t.Error("drain = nil with a subscriber stuck")
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("drain took %s, bound 200ms", d)
	}
	if !nc.IsClosed() {
		t.Error("connection left open past the bound")
	}
}

// termWithWorkInHand waits until the worker holds its work (got), sends SIGTERM, checks that
// Wait neither returns nor closes the connection while it holds it, then releases it and
// checks that Wait returns nil only once the connection is closed.
func termWithWorkInHand(t *testing.T, rt *Runtime, got, release chan struct{}) {
	t.Helper()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker got no work")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v with work in hand", err)
	case <-time.After(300 * time.Millisecond):
	}
	if rt.NC.IsClosed() {
		t.Fatal("connection closed with work in hand")
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait = %v", err)
		}
	case <-time.After(drainWait + 5*time.Second):
		t.Fatal("Wait did not return")
	}
	if !rt.NC.IsClosed() {
		t.Error("Wait returned before the connection was closed")
	}
}
