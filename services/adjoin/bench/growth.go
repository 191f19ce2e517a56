package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/counts"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// growthSpread is how many users the second half of the growth phase spreads its alerts over.
const growthSpread = 10_000

// GrowthResult is the growth phase: Alerts alerts on one user, then Alerts alerts spread over
// SpreadUsers users, each counted exactly; a counting core whose cost per alert grew with an
// entity's history would show OneUserPerSec far below SpreadPerSec.
type GrowthResult struct {
	Sync        string `json:"sync"`
	Alerts      int    `json:"alerts"`
	SpreadUsers int    `json:"spread_users"`
	// OneUserPerSec and SpreadPerSec: alerts over the time from the first publish until both
	// correlator stages had acknowledged everything.
	OneUserPerSec float64 `json:"one_user_alerts_per_s"`
	SpreadPerSec  float64 `json:"spread_alerts_per_s"`
	// Ratio is OneUserPerSec over SpreadPerSec.
	Ratio float64 `json:"ratio"`
	// RecordBytes is the size of the one user's record in adjoin_badges at the end.
	RecordBytes int `json:"record_bytes"`
	// OtherCPUShare is the machine's CPU other processes used during the phase.
	OtherCPUShare float64 `json:"other_cpu_share"`
}

// growth measures the growth phase with the services running, over users 0..users-1 of the
// directory: every user's count is checked against its record before the step.
func growth(ctx context.Context, js jetstream.JetStream, mode string, alerts, users int, progress io.Writer) (*GrowthResult, error) {
	badges, err := js.KeyValue(ctx, natsx.BucketBadges)
	if err != nil {
		return nil, err
	}
	res := &GrowthResult{Sync: mode, Alerts: alerts, SpreadUsers: min(growthSpread, users)}
	fmt.Fprintf(progress, "bench: [growth %s] %d alerts on one user\n", mode, alerts)
	one := func(i int) (*nats.Msg, error) { return alertMsg(alert("growth/one", i, 0)) }
	if res.OneUserPerSec, err = growthStep(ctx, js, badges, alerts, one, map[int]int64{0: int64(alerts)}); err != nil {
		return nil, fmt.Errorf("one user: %w", err)
	}
	if _, res.RecordBytes, err = countedOn(ctx, badges, 0); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "bench: [growth %s] %d alerts over %d users\n", mode, alerts, res.SpreadUsers)
	want := map[int]int64{}
	for i := range alerts {
		want[i%res.SpreadUsers]++
	}
	spread := func(i int) (*nats.Msg, error) { return alertMsg(alert("growth/spread", i, i%res.SpreadUsers)) }
	if res.SpreadPerSec, err = growthStep(ctx, js, badges, alerts, spread, want); err != nil {
		return nil, fmt.Errorf("spread: %w", err)
	}
	res.Ratio = res.OneUserPerSec / res.SpreadPerSec
	return res, nil
}

// growthStep publishes n alerts (msg(i)) at once, as fast as JetStream takes them, and returns
// the alerts per second until both correlator stages had acknowledged everything, after
// checking that every user u of want gained exactly want[u] alerts.
func growthStep(ctx context.Context, js jetstream.JetStream, badges jetstream.KeyValue, n int, msg func(int) (*nats.Msg, error), want map[int]int64) (float64, error) {
	before := make(map[int]int64, len(want))
	for u := range want {
		total, _, err := countedOn(ctx, badges, u)
		if err != nil {
			return 0, err
		}
		before[u] = total
	}
	start := time.Now()
	p := &publisher{js: js}
	for i := range n {
		m, err := msg(i)
		if err == nil {
			err = p.publish(m)
		}
		if err != nil {
			return 0, err
		}
	}
	if err := p.flush(); err != nil {
		return 0, err
	}
	end, err := waitCorrelator(ctx, js, 30*time.Minute+time.Duration(n)*10*time.Millisecond)
	if err != nil {
		return 0, err
	}
	for u, w := range want {
		total, _, err := countedOn(ctx, badges, u)
		if err != nil {
			return 0, err
		}
		if total-before[u] != w {
			return 0, fmt.Errorf("user %d: %d alerts counted, want %d", u, total-before[u], w)
		}
	}
	return float64(n) / end.Sub(start).Seconds(), nil
}

// countedOn returns the alerts counted on user u, both sides, and the size of its record.
func countedOn(ctx context.Context, badges jetstream.KeyValue, u int) (int64, int, error) {
	e, err := badges.Get(ctx, userGUID(u))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("record of user %d: %w", u, err)
	}
	var ec adjoinv1.EntityCounts
	if err := natsx.Decode(nil, e.Value(), &ec); err != nil {
		return 0, 0, fmt.Errorf("record of user %d: %w", u, err)
	}
	total := counts.Summarise(&ec, adjoinv1.Side_SIDE_IDENTITY).GetTotal() + counts.Summarise(&ec, adjoinv1.Side_SIDE_ENDPOINT).GetTotal()
	return total, len(e.Value()), nil
}
