package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/adjoin/adjoin/pkg/badgeload"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
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
	minimal, stop, err := badgeload.StartMinimal(proto.Clone(sample).(*adjoinv1.GetBadgeResponse))
	if err != nil {
		return nil, err
	}
	defer stop()
	clients := [2]adjoinv1.BadgeServiceClient{client, minimal}
	for _, c := range clients { // warm up connections and caches
		if _, _, err := badgeload.Call(ctx, c, reqs, min(calls, 2000), 16); err != nil {
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
			n := badgeload.RoundShare(calls, rounds, r)
			for k := range clients {
				i := (k + r) % 2
				l, d, err := badgeload.Call(ctx, clients[i], reqs, n, conc)
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
