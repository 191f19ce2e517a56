package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// The correlator's durable consumers: alerts, and the incident builder's on CORRELATED.
const (
	correlatorDurable = "correlator"
	incidentsDurable  = correlatorDurable + "-incidents"
)

// services is the real adjoin-correlator and adjoin-badge binaries, each its own process as
// deployed, against the harness's server; the badge service on a loopback gRPC port.
type services struct {
	correlator, badge *child
	client            adjoinv1.BadgeServiceClient
	conn              *grpc.ClientConn
	// correlatorReady and badgeReady are the times from start until the correlator's /readyz
	// answered 200 (directory loaded, consuming) and the badge service's gRPC health answered
	// SERVING (view loaded).
	correlatorReady, badgeReady time.Duration
	// readyCPU is the CPU time each process used until ready, and the harness's process (the
	// embedded NATS server, mostly) while both started: on a shared machine these say more
	// than the wall times.
	readyCPU readyCPU
}

// readyCPU is CPU time spent until ready.
type readyCPU struct{ correlator, badge, server time.Duration }

// startServices starts the correlator, waits until it is ready, then the badge service, and
// returns once that is ready too. One after the other: each loads the whole directory at
// start, CPU-bound, and on a small machine the two loading at once take longer than in turn.
func startServices(ctx context.Context, binDir, url string, progress io.Writer) (*services, error) {
	common := []string{"--nats-url", url, "--log-format", "json", "--log-level", "info"}
	s := &services{}
	var err error
	own := ownCPU()
	defer func() { s.readyCPU.server = ownCPU() - own }()
	s.correlator, s.correlatorReady, err = startReady(ctx, filepath.Join(binDir, "adjoin-correlator"),
		// No snapshot written while a figure is measured: restartFromSnapshot writes it.
		append(common, "--http-addr", "127.0.0.1:0", "--directory-snapshot-every", "0"), "http listening", progress, func(addr string) bool {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	if err != nil {
		return nil, err
	}
	s.readyCPU.correlator = procsCPU([]int{s.correlator.cmd.Process.Pid})
	var health healthpb.HealthClient
	s.badge, s.badgeReady, err = startReady(ctx, filepath.Join(binDir, "adjoin-badge"),
		append(common, "--grpc-addr", "127.0.0.1:0", "--http-addr", ""), "grpc listening", progress, func(addr string) bool {
			if s.conn == nil {
				conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					return false
				}
				s.conn, s.client, health = conn, adjoinv1.NewBadgeServiceClient(conn), healthpb.NewHealthClient(conn)
			}
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			resp, err := health.Check(cctx, &healthpb.HealthCheckRequest{})
			return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
		})
	if err != nil {
		s.stop()
		return nil, err
	}
	s.readyCPU.badge = procsCPU([]int{s.badge.cmd.Process.Pid})
	return s, nil
}

// startReady starts bin and waits until it logged listenMsg and ready(address) holds, saying
// on progress every ten seconds that it is still waiting (a large directory takes minutes).
func startReady(ctx context.Context, bin string, args []string, listenMsg string, progress io.Writer,
	ready func(addr string) bool) (*child, time.Duration, error) {
	start := time.Now()
	c, err := startChild(ctx, bin, args, listenMsg, progress)
	if err != nil {
		return nil, 0, err
	}
	name := filepath.Base(bin)
	deadline, next := start.Add(15*time.Minute), start.Add(10*time.Second)
	addr := ""
	for addr == "" || !ready(addr) {
		select {
		case <-ctx.Done():
			c.stop()
			return nil, 0, ctx.Err()
		case err := <-c.done:
			c.done <- err
			return nil, 0, fmt.Errorf("%s exited before it was ready: %w", name, err)
		case addr = <-c.addr:
		case <-time.After(20 * time.Millisecond):
		}
		if now := time.Now(); now.After(deadline) {
			c.stop()
			return nil, 0, fmt.Errorf("%s not ready within 15 minutes", name)
		} else if now.After(next) {
			fmt.Fprintf(progress, "bench:   %s loading for %s\n", name, now.Sub(start).Round(time.Second))
			next = now.Add(10 * time.Second)
		}
	}
	return c, time.Since(start), nil
}

// rss reads the resident memory of both processes.
func (s *services) rss() (corr, corrPeak, bdg, bdgPeak int64, err error) {
	if corr, corrPeak, err = procStatus(s.correlator.cmd.Process.Pid); err != nil {
		return
	}
	bdg, bdgPeak, err = procStatus(s.badge.cmd.Process.Pid)
	return
}

// pids are the two processes' ids.
func (s *services) pids() []int {
	return []int{s.correlator.cmd.Process.Pid, s.badge.cmd.Process.Pid}
}

// stop ends both processes (SIGTERM, then SIGKILL after 10s).
func (s *services) stop() {
	if s.conn != nil {
		s.conn.Close()
	}
	if s.badge != nil {
		s.badge.stop()
	}
	s.correlator.stop()
}

// waitKnown polls GetBadge of user u until it answers.
func waitKnown(ctx context.Context, client adjoinv1.BadgeServiceClient, u int, within time.Duration) error {
	req := &adjoinv1.GetBadgeRequest{Selector: &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: userSID(u)}}}
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		_, err := client.GetBadge(ctx, req)
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("badge of %s not served within %s (last error: %v)", userSID(u), within, last)
}
