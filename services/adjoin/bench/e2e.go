package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
)

// SizeResult is adjoin end to end over one directory size: alerts published on ALERTS as the
// ingestors publish them, correlated and counted by the correlator, read back through the
// badge service.
type SizeResult struct {
	Entities int `json:"entities"`
	// LoadSeconds is the time to write this step's new users into adjoin_directory.
	LoadSeconds float64 `json:"directory_load_s"`
	// CorrelatorReadySeconds and BadgeReadySeconds: start to ready, every entity loaded.
	CorrelatorReadySeconds float64  `json:"correlator_ready_s"`
	BadgeReadySeconds      float64  `json:"badge_ready_s"`
	ReadyCPU               ReadyCPU `json:"ready_cpu"`
	// Restart is set at the largest size, in the first sync mode: the directory snapshot
	// written, then both services started again from it.
	Restart *RestartResult `json:"restart,omitempty"`
	// SettleSeconds is how long the throughput phase waited, after the services were ready,
	// for both to be idle (waitQuiet, at most 30 s).
	SettleSeconds float64 `json:"settle_s"`
	// Alerts pushed through in the throughput phase, all published at once.
	Alerts int `json:"alerts"`
	// ActiveUsers is how many users the throughput phase's alerts fell on besides the followed
	// ones (Config.ActiveUsers); 0: spread over every user.
	ActiveUsers int `json:"active_users"`
	// AlertsPerSec is Alerts over the time from the first publish until both stages of the
	// correlator had acknowledged every message and every sampled alert was visible through
	// WatchBadges.
	AlertsPerSec float64 `json:"alerts_per_s"`
	// WithIncidentsPerSec also waits for the incident builder to have handled every alert.
	WithIncidentsPerSec float64 `json:"alerts_per_s_with_incidents"`
	// CPU is what each process spent on the throughput phase, per 1,000 alerts.
	CPU AlertCPU `json:"cpu_per_1k_alerts"`
	// Ratio is AlertsPerSec over the raw round trip of the same run and server.
	Ratio float64 `json:"ratio"`
	// LatencyLoadPerSec is the paced load of the latency phase (half of WithIncidentsPerSec), and
	// LatencySamples how many of its alerts were followed to the badge.
	LatencyLoadPerSec float64 `json:"latency_load_per_s"`
	LatencySamples    int     `json:"latency_samples"`
	// LatencyP50Ms and LatencyP99Ms: publish call to the badge update arriving on WatchBadges.
	LatencyP50Ms float64 `json:"latency_p50_ms"`
	LatencyP99Ms float64 `json:"latency_p99_ms"`
	// OtherCPUShare is the machine's CPU other processes used during the throughput and
	// latency phases (cpuWindow).
	OtherCPUShare float64 `json:"other_cpu_share"`
}

// sizeStep measures one directory size in one sync mode with the services running. Users
// below fresh were there before this size; the sampled users of both phases, of every sync
// mode measured at this size (slots), are reserved among the fresh ones before anything is
// published, so that each sampled alert is the only alert its user ever gets.
type sizeStep struct {
	js       jetstream.JetStream
	svc      *services
	users    int
	fresh    int
	label    string
	progress io.Writer
	rng      *rand.Rand
	// throughputSampled and latencySampled are this slot's reserved users; no bulk alert goes
	// to a user in fresh..reservedEnd-1.
	throughputSampled, latencySampled []int
	reservedEnd                       int
	// active are the users the bulk alerts fall on; nil: any user but the reserved ones.
	active []int
}

func newSizeStep(js jetstream.JetStream, svc *services, label string, fresh, users, alerts, active, slot, slots int, progress io.Writer) (*sizeStep, error) {
	s := &sizeStep{js: js, svc: svc, users: users, fresh: fresh, label: label, progress: progress,
		rng: rand.New(rand.NewPCG(uint64(fresh), uint64(users*slots+slot)))}
	tp, lat := samples(alerts, users-fresh), max(1, min(1000, (users-fresh)/4))
	if (tp+lat)*slots > (users-fresh)/2 {
		return nil, fmt.Errorf("%d new users are too few to sample %d alerts %d times", users-fresh, alerts, slots)
	}
	next := fresh + slot*(tp+lat)
	reserve := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = next + i
		}
		next += n
		return out
	}
	s.throughputSampled, s.latencySampled, s.reservedEnd = reserve(tp), reserve(lat), fresh+slots*(tp+lat)
	if active >= 0 {
		s.active = s.drawActive(active)
	}
	return s, nil
}

// drawActive draws n distinct users that are no sample of this step, at random over the
// whole directory (every one of them when there are no more than n).
func (s *sizeStep) drawActive(n int) []int {
	spare := s.users - (s.reservedEnd - s.fresh)
	if n >= spare {
		out := make([]int, 0, spare)
		for u := range s.users {
			if u < s.fresh || u >= s.reservedEnd {
				out = append(out, u)
			}
		}
		return out
	}
	seen := make(map[int]bool, n)
	out := make([]int, 0, n)
	for len(out) < n {
		if u := s.anyUser(); !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// bulkUser is the user of a bulk alert: one of the active users, or any that is no sample.
func (s *sizeStep) bulkUser() int {
	if len(s.active) > 0 {
		return s.active[s.rng.IntN(len(s.active))]
	}
	return s.anyUser()
}

// anyUser is a random user that is no sample of this step.
func (s *sizeStep) anyUser() int {
	for {
		u := s.rng.IntN(s.users)
		if u < s.fresh || u >= s.reservedEnd {
			return u
		}
	}
}

// plan is n alerts of a phase: every every-th alert (up to len(sampled)) on a sampled user,
// the others spread at random over the directory.
func (s *sizeStep) plan(phase string, n int, sampled []int) ([]*nats.Msg, map[int]string, error) {
	every := max(1, n/len(sampled))
	msgs := make([]*nats.Msg, n)
	sampleAt := map[int]string{} // alert index -> entity key of its sampled user
	for i := range msgs {
		var u int
		if i%every == 0 && i/every < len(sampled) {
			u = sampled[i/every]
			sampleAt[i] = userGUID(u)
		} else {
			u = s.bulkUser()
		}
		m, err := alertMsg(alert(s.label+"/"+phase, i, u))
		if err != nil {
			return nil, nil, err
		}
		msgs[i] = m
	}
	return msgs, sampleAt, nil
}

// throughput publishes n alerts at once, as fast as JetStream takes them, and times until the
// correlator acknowledged all of them and the sampled ones were visible through the badge
// service; then until the incident builder caught up too.
func (s *sizeStep) throughput(ctx context.Context, n int) (perSec, withIncidents float64, err error) {
	sampled := s.throughputSampled
	msgs, _, err := s.plan("throughput", n, sampled)
	if err != nil {
		return 0, 0, err
	}
	w, err := watchSamples(ctx, s.svc.client, sampled)
	if err != nil {
		return 0, 0, err
	}
	fmt.Fprintf(s.progress, "bench: [%s] throughput: %d alerts (%d followed to the badge)\n", s.label, n, len(sampled))
	start := time.Now()
	p := &publisher{js: s.js}
	for _, m := range msgs {
		if err := p.publish(m); err != nil {
			w.cancel()
			return 0, 0, err
		}
	}
	if err := p.flush(); err != nil {
		w.cancel()
		return 0, 0, err
	}
	within := 30*time.Minute + time.Duration(n)*10*time.Millisecond
	drained, err := waitCorrelator(ctx, s.js, within)
	if err != nil {
		w.cancel()
		return 0, 0, err
	}
	seen, err := w.wait(ctx, time.Minute)
	if err != nil {
		return 0, 0, err
	}
	end := drained
	for _, at := range seen {
		end = later(end, at)
	}
	incidents, err := waitConsumer(ctx, s.js, natsx.StreamCorrelated, incidentsDurable, 20*time.Millisecond, within)
	if err != nil {
		return 0, 0, err
	}
	return float64(n) / end.Sub(start).Seconds(), float64(n) / later(end, incidents).Sub(start).Seconds(), nil
}

// latency publishes alerts at a steady rate for d, follows them to the badge (every one, or
// an even spread when there are more than the reserved users), and returns the sorted
// publish-to-badge times. It waits for the incident builder before it returns, so that the
// next phase starts with nothing left over.
func (s *sizeStep) latency(ctx context.Context, rate float64, d time.Duration) ([]time.Duration, error) {
	n := max(10, int(rate*d.Seconds()))
	sampled := s.latencySampled[:min(n, len(s.latencySampled))]
	msgs, sampleAt, err := s.plan("latency", n, sampled)
	if err != nil {
		return nil, err
	}
	w, err := watchSamples(ctx, s.svc.client, sampled)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(s.progress, "bench: [%s] latency: %d alerts at %.0f/s (%d followed to the badge)\n", s.label, n, rate, len(sampled))
	sent := map[string]time.Time{}
	p := &publisher{js: s.js}
	start := time.Now()
	for i, m := range msgs {
		if due := start.Add(time.Duration(float64(i) / rate * float64(time.Second))); time.Until(due) > 0 {
			time.Sleep(time.Until(due))
		}
		if key, ok := sampleAt[i]; ok {
			sent[key] = time.Now()
		}
		if err := p.publish(m); err != nil {
			w.cancel()
			return nil, err
		}
	}
	if err := p.flush(); err != nil {
		w.cancel()
		return nil, err
	}
	seen, err := w.wait(ctx, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	lat := make([]time.Duration, 0, len(sent))
	for key, at := range sent {
		lat = append(lat, seen[key].Sub(at))
	}
	if _, err := waitConsumer(ctx, s.js, natsx.StreamCorrelated, incidentsDurable, 20*time.Millisecond, 30*time.Minute); err != nil {
		return nil, err
	}
	return sortedDurations(lat), nil
}

// waitCorrelator returns once both stages of the correlator are drained: its ALERTS consumer,
// then the consumer of every COUNTS partition.
func waitCorrelator(ctx context.Context, js jetstream.JetStream, within time.Duration) (time.Time, error) {
	end, err := waitConsumer(ctx, js, natsx.StreamAlerts, correlatorDurable, 20*time.Millisecond, within)
	if err != nil {
		return end, err
	}
	for p := range natsx.DefaultPartitions {
		at, err := waitConsumer(ctx, js, natsx.StreamCounts, natsx.CounterDurable(correlatorDurable, p), 20*time.Millisecond, within)
		if err != nil {
			return at, err
		}
		end = later(end, at)
	}
	return end, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
