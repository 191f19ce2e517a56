package bench

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// BadgeResult is GetBadge of the badge service at one concurrency, beside a minimal gRPC
// server answering every call with the same badge.
type BadgeResult struct {
	Concurrency int `json:"concurrency"`
	// Entities in the directory the badge service serves from.
	Entities int `json:"entities"`
	// Calls per server, from Concurrency goroutines on one connection.
	Calls        int     `json:"calls"`
	QPS          float64 `json:"qps"`
	P50Ms        float64 `json:"p50_ms"`
	P99Ms        float64 `json:"p99_ms"`
	MinimalQPS   float64 `json:"minimal_qps"`
	MinimalP50Ms float64 `json:"minimal_p50_ms"`
	MinimalP99Ms float64 `json:"minimal_p99_ms"`
	// QPSRatio is QPS / MinimalQPS.
	QPSRatio float64 `json:"qps_ratio"`
	// OtherCPUShare is the machine's CPU other processes used meanwhile (cpuWindow).
	OtherCPUShare float64 `json:"other_cpu_share"`
}

// minimalBadgeServer is the floor to compare with: a BadgeService on a plain grpc.NewServer
// that answers every GetBadge with one fixed badge.
type minimalBadgeServer struct {
	adjoinv1.UnimplementedBadgeServiceServer
	resp *adjoinv1.GetBadgeResponse
}

func (m minimalBadgeServer) GetBadge(context.Context, *adjoinv1.GetBadgeRequest) (*adjoinv1.GetBadgeResponse, error) {
	return m.resp, nil
}

// measureGetBadge calls GetBadge by SID for users that hold one alert each (so every answer
// is the same size), in a directory of entities users, on adjoin and on a minimal server
// answering with the first user's real badge, at each concurrency, in interleaved rounds so
// that a change of load on the machine weighs on both.
func measureGetBadge(ctx context.Context, svc *services, users []int, entities, calls int, levels []int) ([]BadgeResult, error) {
	client := svc.client
	reqs := make([]*adjoinv1.GetBadgeRequest, len(users))
	for i, u := range users {
		reqs[i] = &adjoinv1.GetBadgeRequest{Selector: &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: userSID(u)}}}
	}
	sample, err := client.GetBadge(ctx, reqs[0])
	if err != nil {
		return nil, fmt.Errorf("GetBadge: %w", err)
	}
	if total(sample.GetBadge()) != 1 {
		return nil, fmt.Errorf("GetBadge of %s shows %d alerts, want 1", userSID(users[0]), total(sample.GetBadge()))
	}
	minimal, stop, err := startMinimal(proto.Clone(sample).(*adjoinv1.GetBadgeResponse))
	if err != nil {
		return nil, err
	}
	defer stop()
	clients := [2]adjoinv1.BadgeServiceClient{client, minimal}
	for _, c := range clients { // warm up connections and caches
		if _, _, err := callMany(ctx, c, reqs, min(calls, 2000), 16); err != nil {
			return nil, err
		}
	}
	var out []BadgeResult
	for _, conc := range levels {
		cpu := startCPUWindow(svc.pids()...)
		var lat [2][]time.Duration
		var took [2]time.Duration
		const rounds = 10
		for r := range rounds {
			n := calls/rounds + boolInt(r < calls%rounds)
			for k := range clients {
				i := (k + r) % 2
				l, d, err := callMany(ctx, clients[i], reqs, n, conc)
				if err != nil {
					return nil, err
				}
				lat[i], took[i] = append(lat[i], l...), took[i]+d
			}
		}
		a, m := sortedDurations(lat[0]), sortedDurations(lat[1])
		res := BadgeResult{Concurrency: conc, Entities: entities, Calls: calls,
			QPS: float64(len(a)) / took[0].Seconds(), P50Ms: percentileMs(a, 0.5), P99Ms: percentileMs(a, 0.99),
			MinimalQPS: float64(len(m)) / took[1].Seconds(), MinimalP50Ms: percentileMs(m, 0.5), MinimalP99Ms: percentileMs(m, 0.99)}
		res.QPSRatio, res.OtherCPUShare = res.QPS/res.MinimalQPS, cpu.otherShare()
		out = append(out, res)
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// callMany makes n GetBadge calls from conc goroutines and times each and all.
func callMany(ctx context.Context, client adjoinv1.BadgeServiceClient, reqs []*adjoinv1.GetBadgeRequest, n, conc int) ([]time.Duration, time.Duration, error) {
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

// startMinimal serves minimalBadgeServer on a loopback listener.
func startMinimal(resp *adjoinv1.GetBadgeResponse) (adjoinv1.BadgeServiceClient, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := grpc.NewServer()
	adjoinv1.RegisterBadgeServiceServer(srv, minimalBadgeServer{resp: resp})
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		return nil, nil, err
	}
	return adjoinv1.NewBadgeServiceClient(conn), func() { conn.Close(); srv.Stop() }, nil
}
