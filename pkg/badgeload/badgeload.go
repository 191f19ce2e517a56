// Package badgeload drives GetBadge load for the benchmarks (`adjoin bench` and the badge
// service's go-test benchmark): a minimal BadgeService to compare the real one with, and timed
// calls from concurrent callers.
package badgeload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// minimal is the floor to compare with: a BadgeService on a plain grpc.NewServer that answers
// every GetBadge with one fixed badge.
type minimal struct {
	adjoinv1.UnimplementedBadgeServiceServer
	resp *adjoinv1.GetBadgeResponse
}

func (m minimal) GetBadge(context.Context, *adjoinv1.GetBadgeRequest) (*adjoinv1.GetBadgeResponse, error) {
	return m.resp, nil
}

// StartMinimal serves the minimal BadgeService, answering every GetBadge with resp, on a
// loopback listener, and returns a client of it; stop closes both. It runs inside the caller's
// process; ServeMinimal is the same server for a process of its own.
func StartMinimal(resp *adjoinv1.GetBadgeResponse) (client adjoinv1.BadgeServiceClient, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := newMinimal(resp)
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		return nil, nil, err
	}
	return adjoinv1.NewBadgeServiceClient(conn), func() { conn.Close(); srv.Stop() }, nil
}

// ServeMinimal serves the minimal BadgeService on ln until ctx ends. It is what `adjoin bench`
// runs as a process of its own, so that the baseline pays for its own process, scheduling and
// loopback as the badge service does, and not for the harness's load.
func ServeMinimal(ctx context.Context, ln net.Listener, resp *adjoinv1.GetBadgeResponse) error {
	srv := newMinimal(resp)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		srv.Stop() // a benchmark's calls have nothing worth finishing
	}()
	err := srv.Serve(ln)
	if errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	return err
}

// newMinimal is a plain grpc.NewServer with the minimal BadgeService and nothing else.
func newMinimal(resp *adjoinv1.GetBadgeResponse) *grpc.Server {
	srv := grpc.NewServer()
	adjoinv1.RegisterBadgeServiceServer(srv, minimal{resp: resp})
	return srv
}

// Call makes n GetBadge calls on client from conc goroutines, cycling through reqs, and
// returns each call's latency and the wall time of them all. A call that fails or answers
// without a badge is reported (the first one), the others go on.
func Call(ctx context.Context, client adjoinv1.BadgeServiceClient, reqs []*adjoinv1.GetBadgeRequest, n, conc int) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range min(conc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				resp, err := client.GetBadge(ctx, reqs[i%len(reqs)])
				lat[i] = time.Since(t0)
				if err == nil && resp.GetBadge() == nil {
					err = fmt.Errorf("call %d: no badge", i)
				}
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("GetBadge: %w", err) })
				}
			}
		})
	}
	wg.Wait()
	return lat, time.Since(start), firstErr
}

// RoundShare is how many of n calls round r of rounds makes: n/rounds, one more for the first
// n%rounds rounds, so the rounds add up to n.
func RoundShare(n, rounds, r int) int {
	share := n / rounds
	if r < n%rounds {
		share++
	}
	return share
}
