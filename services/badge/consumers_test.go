package badge_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/services/badge"
)

// consumers is how many consumers the CORRELATED stream has.
func (h *harness) consumers(t testing.TB) int {
	t.Helper()
	s, err := h.nats.JS.Stream(context.Background(), natsx.StreamCorrelated)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.Consumers
}

// TestStreamCorrelatedShortCallsLeaveNoConsumer: a client calling StreamCorrelated in a loop
// and hanging up (right away, or after the first message) used to leave one consumer on
// CORRELATED per call, until the server refused new consumers for everybody. 1,200 such calls
// leave none, and well before the consumers' idle threshold (30s) could have removed them.
func TestStreamCorrelatedShortCallsLeaveNoConsumer(t *testing.T) {
	t.Parallel()
	// Four callers hanging up faster than the server ends their calls: above the default
	// per-client stream limit for a moment, which is not what this test is about.
	h := startBadge(t, func(c *badge.Config) { c.MaxStreamsPerClient = 64 })
	for n := 1; n <= 3; n++ {
		h.stored(t, keyPgustavo, n)
	}
	baseline := h.consumers(t)

	const calls, callers = 1200, 4
	shortCall := func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req := &adjoinv1.StreamCorrelatedRequest{}
		if i%3 == 2 {
			req.Selectors = []*adjoinv1.EntitySelector{bySID(keyPgustavo)}
		}
		stream, err := h.client.StreamCorrelated(ctx, req)
		if err != nil || i%2 == 0 {
			return err // hung up right away
		}
		if _, err := stream.Recv(); err != nil {
			return fmt.Errorf("call %d: first message: %w", i, err)
		}
		return nil
	}
	work := make(chan int)
	errc := make(chan error, calls)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := shortCall(i); err != nil {
					errc <- err
				}
			}
		}()
	}
	for i := range calls {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if n := h.consumers(t); n != baseline {
			return fmt.Errorf("CORRELATED has %d consumers after %d short calls, want %d as before", n, calls, baseline)
		}
		return nil
	})

	f := follow(t, h, &adjoinv1.StreamCorrelatedRequest{})
	f.take(t, 3)
}

// TestCorrelatedErrorCodes: what a caller can fix is not reported as an outage.
func TestCorrelatedErrorCodes(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	_, last := h.stored(t, keyPgustavo, 1)

	streamCode := func(t *testing.T, req *adjoinv1.StreamCorrelatedRequest) (codes.Code, string) {
		t.Helper()
		f := follow(t, h, req)
		select {
		case err := <-f.errc:
			return status.Code(err), status.Convert(err).Message()
		case m := <-f.msgs:
			t.Fatalf("message %v, want an error", m)
		case <-time.After(5 * time.Second):
			t.Fatal("no error within 5s")
		}
		return codes.OK, ""
	}
	tests := []struct {
		name     string
		req      *adjoinv1.StreamCorrelatedRequest
		wantCode codes.Code
		wantMsg  string
	}{
		{"cursor past the end", &adjoinv1.StreamCorrelatedRequest{Cursor: last + 1000}, codes.OutOfRange, "resume from 0 or with new_only"},
		{"largest cursor", &adjoinv1.StreamCorrelatedRequest{Cursor: math.MaxUint64}, codes.OutOfRange, "cursor past the end"},
		{"cursor past the end, one entity", &adjoinv1.StreamCorrelatedRequest{Cursor: last + 1, Selectors: []*adjoinv1.EntitySelector{bySID(keyPgustavo)}},
			codes.OutOfRange, fmt.Sprintf("last message is %d", last)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := streamCode(t, tt.req)
			if code != tt.wantCode || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("%s %q, want %s with %q", code, msg, tt.wantCode, tt.wantMsg)
			}
		})
	}

	t.Run("consumer limit reached", func(t *testing.T) {
		// A deployment whose CORRELATED stream allows two more consumers, both taken.
		s, err := h.nats.JS.Stream(context.Background(), natsx.StreamCorrelated)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		cfg.MaxConsumers = h.consumers(t) + 2
		if _, err := h.nats.JS.UpdateStream(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		var fillers []string
		for i := range 2 {
			name := fmt.Sprintf("filler-%d", i)
			if _, err := h.nats.JS.CreateConsumer(context.Background(), natsx.StreamCorrelated, jetstream.ConsumerConfig{Durable: name}); err != nil {
				t.Fatal(err)
			}
			fillers = append(fillers, name)
		}
		if code, msg := streamCode(t, &adjoinv1.StreamCorrelatedRequest{}); code != codes.ResourceExhausted || !strings.Contains(msg, "maximum consumers") {
			t.Errorf("StreamCorrelated: %s %q, want %s naming the limit", code, msg, codes.ResourceExhausted)
		}
		_, err = h.client.ListEntityAlerts(rpcCtx(t), &adjoinv1.ListEntityAlertsRequest{Selector: bySID(keyPgustavo)})
		if got := status.Code(err); got != codes.ResourceExhausted {
			t.Errorf("ListEntityAlerts: %s (%v), want %s", got, err, codes.ResourceExhausted)
		}
		if _, err := h.get(t, bySID(keyPgustavo)); err != nil {
			t.Errorf("GetBadge while CORRELATED is full: %v", err)
		}
		// Room again: both work, and leave the room they found.
		if err := h.nats.JS.DeleteConsumer(context.Background(), natsx.StreamCorrelated, fillers[0]); err != nil {
			t.Fatal(err)
		}
		resp, err := h.client.ListEntityAlerts(rpcCtx(t), &adjoinv1.ListEntityAlertsRequest{Selector: bySID(keyPgustavo)})
		if err != nil || resp.GetTotalSize() != 1 {
			t.Fatalf("ListEntityAlerts with room again: %v %v", resp, err)
		}
		follow(t, h, &adjoinv1.StreamCorrelatedRequest{}).take(t, 1)
	})
}

// TestStreamCorrelatedConsumersGoneAfterShutdown: streams ended by their deadline, and the
// streams still open when the service stops, leave no consumer either.
func TestStreamCorrelatedConsumersGoneAfterShutdown(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	h.stored(t, keyPgustavo, 1)
	baseline := h.consumers(t)

	// A second service on the same NATS, stopped by the test.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := h.cfg
	cfg.Listener = ln
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- badge.Run(ctx, cfg, zap.NewNop()) }()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := adjoinv1.NewBadgeServiceClient(conn)
	first := func(ctx context.Context) error {
		s, err := client.StreamCorrelated(ctx, &adjoinv1.StreamCorrelatedRequest{})
		if err == nil {
			_, err = s.Recv()
		}
		return err
	}
	// The service is up once a stream answers.
	testkit.Eventually(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return first(ctx)
	})
	for i := range 3 { // ended by their deadline, after the first message
		dctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		if err := first(dctx); err != nil {
			t.Fatalf("stream %d with a deadline: %v", i, err)
		}
		<-dctx.Done()
		cancel()
	}
	openCtx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	for i := range 3 { // open when the service stops
		if err := first(openCtx); err != nil {
			t.Fatalf("open stream %d: %v", i, err)
		}
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(cfg.ShutdownGrace + 5*time.Second):
		t.Fatal("Run did not return")
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if n := h.consumers(t); n != baseline {
			return fmt.Errorf("CORRELATED has %d consumers after the service stopped, want %d as before", n, baseline)
		}
		return nil
	})
}
