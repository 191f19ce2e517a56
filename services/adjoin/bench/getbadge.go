package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/badgeload"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// BadgeResult is GetBadge of the badge service at one concurrency, beside a minimal gRPC
// server answering every call with the same badge, run twice: as a process of its own (the
// fair floor, as adjoin-badge is one) and inside the harness's process (the baseline of the
// earlier runs, kept so that their JSON compares).
type BadgeResult struct {
	Concurrency int `json:"concurrency"`
	// Entities in the directory the badge service serves from.
	Entities int `json:"entities"`
	// Calls per server, from Concurrency goroutines on one connection.
	Calls int     `json:"calls"`
	QPS   float64 `json:"qps"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	// MinimalQPS, MinimalP50Ms and MinimalP99Ms are the minimal server inside the harness's
	// process, and QPSRatio is QPS / MinimalQPS (their meaning since the first runs).
	MinimalQPS   float64 `json:"minimal_qps"`
	MinimalP50Ms float64 `json:"minimal_p50_ms"`
	MinimalP99Ms float64 `json:"minimal_p99_ms"`
	QPSRatio     float64 `json:"qps_ratio"`
	// ProcessQPS, ProcessP50Ms and ProcessP99Ms are the minimal server as a process of its
	// own; ProcessQPSRatio is QPS / ProcessQPS and ProcessP99Ratio is P99Ms / ProcessP99Ms, the
	// figures to judge GetBadge by.
	ProcessQPS      float64 `json:"minimal_process_qps"`
	ProcessP50Ms    float64 `json:"minimal_process_p50_ms"`
	ProcessP99Ms    float64 `json:"minimal_process_p99_ms"`
	ProcessQPSRatio float64 `json:"process_qps_ratio"`
	ProcessP99Ratio float64 `json:"process_p99_ratio"`
	// OtherCPUShare is the machine's CPU other processes used meanwhile (cpuWindow).
	OtherCPUShare float64 `json:"other_cpu_share"`
}

// measureGetBadge calls GetBadge by SID for users that hold one alert each (so every answer
// is the same size), in a directory of entities users, on adjoin and on the minimal server
// answering with the first user's real badge, in its own process (run with minimalCmd) and in
// this one, at each concurrency, in interleaved rounds so that a change of load on the
// machine weighs on all three.
func measureGetBadge(ctx context.Context, svc *services, minimalCmd []string, users []int, entities, calls int, levels []int, progress io.Writer) ([]BadgeResult, error) {
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
	own, err := startMinimal(ctx, minimalCmd, sample, progress)
	if err != nil {
		return nil, fmt.Errorf("minimal gRPC server process: %w", err)
	}
	defer own.stop()
	inProcess, stop, err := badgeload.StartMinimal(proto.Clone(sample).(*adjoinv1.GetBadgeResponse))
	if err != nil {
		return nil, err
	}
	defer stop()
	// The order of the slots is that of the figures: adjoin, minimal (own process), minimal
	// (in this process).
	clients := []adjoinv1.BadgeServiceClient{client, own.client, inProcess}
	for _, c := range clients { // warm up connections and caches
		if _, _, err := badgeload.Call(ctx, c, reqs, min(calls, 2000), 16); err != nil {
			return nil, err
		}
	}
	waited := waitQuiet(svc.pids(), 30*time.Second)
	fmt.Fprintf(progress, "bench: GetBadge: the services idle after %.1f s\n", waited.Seconds())
	var out []BadgeResult
	for _, conc := range levels {
		cpu := startCPUWindow(append(svc.pids(), own.pid())...)
		lat := make([][]time.Duration, len(clients))
		took := make([]time.Duration, len(clients))
		const rounds = 10
		for r := range rounds {
			n := badgeload.RoundShare(calls, rounds, r)
			// The clients run in this process, beside the embedded JetStream server's heap
			// (300 MB and more at 1M users): its collection, forced here between rounds, would
			// otherwise fall inside one server's round and weigh on that server's figures only.
			runtime.GC()
			for k := range clients {
				i := (k + r) % len(clients)
				l, d, err := badgeload.Call(ctx, clients[i], reqs, n, conc)
				if err != nil {
					return nil, err
				}
				lat[i], took[i] = append(lat[i], l...), took[i]+d
			}
		}
		a, p, m := sortedDurations(lat[0]), sortedDurations(lat[1]), sortedDurations(lat[2])
		res := BadgeResult{Concurrency: conc, Entities: entities, Calls: calls,
			QPS: float64(len(a)) / took[0].Seconds(), P50Ms: percentileMs(a, 0.5), P99Ms: percentileMs(a, 0.99),
			ProcessQPS: float64(len(p)) / took[1].Seconds(), ProcessP50Ms: percentileMs(p, 0.5), ProcessP99Ms: percentileMs(p, 0.99),
			MinimalQPS: float64(len(m)) / took[2].Seconds(), MinimalP50Ms: percentileMs(m, 0.5), MinimalP99Ms: percentileMs(m, 0.99)}
		res.QPSRatio, res.ProcessQPSRatio, res.ProcessP99Ratio = res.QPS/res.MinimalQPS, res.QPS/res.ProcessQPS, res.P99Ms/res.ProcessP99Ms
		res.OtherCPUShare = cpu.otherShare()
		out = append(out, res)
	}
	return out, nil
}
