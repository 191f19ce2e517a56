package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"time"
)

// PairedScale is the correlator's throughput at the largest directory size over that at the
// smallest, measured side by side: two servers, one holding each directory, each with its own
// correlator and badge service, all running at once; round after round, the same number of
// alerts goes through one and then the other. The sizes' own throughput figures (ScaleResult)
// are measured minutes apart, over which this machine's speed was seen to change by a fifth;
// two figures taken seconds apart share the machine's state.
//
// The side that goes second in a round was seen to run about a tenth slower (under the default
// sync, the kernel writing back the first side's pages then), so rounds come in pairs, the
// smaller directory first in the first round of a pair and second in the other: a pair's ratio
// is the geometric mean of its two rounds' ratios, in which the order's effect cancels, and
// the figure reported is the median of the pairs' ratios.
type PairedScale struct {
	FromEntities   int `json:"from_entities"`
	ToEntities     int `json:"to_entities"`
	Pairs          int `json:"pairs"`
	AlertsPerRound int `json:"alerts_per_round"`
	// AlertsPerSecRatios is, per round in order, alerts/s at ToEntities over alerts/s at
	// FromEntities; WithIncidentsRatios the same with the incident builder waited for;
	// CorrelatorCPURatios the correlator's CPU per alert at ToEntities over that at FromEntities.
	AlertsPerSecRatios  []float64 `json:"alerts_per_s_ratios"`
	WithIncidentsRatios []float64 `json:"alerts_per_s_with_incidents_ratios"`
	CorrelatorCPURatios []float64 `json:"correlator_cpu_ratios"`
	// The figures reported: the median over the pairs of each pair's geometric mean.
	AlertsPerSecRatio  float64 `json:"alerts_per_s_ratio"`
	WithIncidentsRatio float64 `json:"alerts_per_s_with_incidents_ratio"`
	CorrelatorCPURatio float64 `json:"correlator_cpu_ratio"`
	// FromAlertsPerSec and ToAlertsPerSec are each side's median alerts/s over the rounds.
	FromAlertsPerSec float64 `json:"from_alerts_per_s"`
	ToAlertsPerSec   float64 `json:"to_alerts_per_s"`
	// OtherCPUShare is the machine's CPU other processes used over the rounds.
	OtherCPUShare float64 `json:"other_cpu_share"`
}

// pairedSide is one server of the paired measurement, its services and its sampled users.
type pairedSide struct {
	users int
	srv   *jsServer
	svc   *services
	step  *sizeStep
	// sampled is how many users each round follows to the badge: round r's are users
	// r*sampled to (r+1)*sampled-1, each given one alert.
	sampled int
}

// paired measures PairedScale in the last sync mode of the run (under the default sync in a
// full run, where the correlator's own work sets the pace; under sync always both sides wait
// on the same disk flushes, and its rounds take four times as long): the largest size on big,
// as the size steps left it, and the smallest on a second server it starts in dir and fills.
func (r *matrix) paired(ctx context.Context, big *jsServer, dir string, rep *Report) error {
	from, to := r.cfg.Sizes[0], r.cfg.Sizes[len(r.cfg.Sizes)-1]
	small, err := startServer(ctx, dir, false)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer func() { small.stop() }()
	r.say("[paired] a second server with %d users", from)
	if err := loadUsers(ctx, small.js, 0, from, r.cfg.Progress); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	modes := r.cfg.syncs()
	mode := modes[len(modes)-1]
	sides := []*pairedSide{{users: from, srv: small}, {users: to, srv: big}}
	res, err := r.pairedMode(ctx, mode, sides)
	for _, s := range sides {
		if s.svc != nil {
			s.svc.stop()
		}
	}
	if err != nil {
		return fmt.Errorf("paired %s: %w", mode, err)
	}
	rep.Runs[len(modes)-1].Paired = res
	r.say("[paired %s] %d users over %d users: alerts/s ratio %.2f (rounds %s), correlator CPU per alert %.2f",
		mode, to, from, res.AlertsPerSecRatio, ratios(res.AlertsPerSecRatios), res.CorrelatorCPURatio)
	return nil
}

// pairedMode runs the rounds of one sync mode on both sides, from an empty history.
func (r *matrix) pairedMode(ctx context.Context, mode string, sides []*pairedSide) (*PairedScale, error) {
	rounds, perRound := 2*r.cfg.ScalePairs, max(1, r.cfg.Alerts/4)
	for _, s := range sides {
		if err := s.srv.setSync(mode == SyncAlways); err != nil {
			return nil, err
		}
		if err := resetHistory(ctx, s.srv.js); err != nil {
			return nil, err
		}
	}
	var pids []int
	for _, s := range sides {
		r.say("[paired %s %d] starting adjoin-correlator, then adjoin-badge", mode, s.users)
		var err error
		if s.svc, err = startServices(ctx, r.binDir, s.srv.url(), r.cfg.Progress); err != nil {
			return nil, err
		}
		if err := waitKnown(ctx, s.svc.client, s.users-1, time.Minute); err != nil {
			return nil, err
		}
		if err := s.plan(mode, rounds, perRound, r.cfg); err != nil {
			return nil, err
		}
		pids = append(pids, s.svc.pids()...)
	}
	// A round on each side first, not measured: the larger side's first seconds after start
	// were seen to run slower (the first round at 0.6-0.8 of the next ones).
	for _, s := range sides {
		got, err := s.round(ctx, mode, rounds, perRound, pids)
		if err != nil {
			return nil, fmt.Errorf("%d users, warm-up: %w", s.users, err)
		}
		r.say("[paired %s %d] warm-up: %s", mode, s.users, got)
	}
	res := &PairedScale{FromEntities: sides[0].users, ToEntities: sides[1].users, Pairs: r.cfg.ScalePairs, AlertsPerRound: perRound}
	var fromRates, toRates []float64
	cpu := startCPUWindow(pids...)
	for round := range rounds {
		var got [2]sideRound
		for k := range 2 {
			i := k
			if round%2 == 1 { // the larger directory first
				i = 1 - k
			}
			var err error
			if got[i], err = sides[i].round(ctx, mode, round, perRound, pids); err != nil {
				return nil, fmt.Errorf("%d users, round %d: %w", sides[i].users, round, err)
			}
			r.say("[paired %s %d] round %d: %s", mode, sides[i].users, round, got[i])
		}
		from, to := got[0], got[1]
		fromRates, toRates = append(fromRates, from.rate), append(toRates, to.rate)
		res.AlertsPerSecRatios = append(res.AlertsPerSecRatios, to.rate/from.rate)
		res.WithIncidentsRatios = append(res.WithIncidentsRatios, to.incidents/from.incidents)
		res.CorrelatorCPURatios = append(res.CorrelatorCPURatios, to.cpu.CorrelatorMs/max(from.cpu.CorrelatorMs, 1e-9))
		r.say("[paired %s] round %d: ratio %.2f", mode, round, to.rate/from.rate)
	}
	res.OtherCPUShare = cpu.otherShare()
	res.AlertsPerSecRatio, res.WithIncidentsRatio = byPairs(res.AlertsPerSecRatios), byPairs(res.WithIncidentsRatios)
	res.CorrelatorCPURatio = byPairs(res.CorrelatorCPURatios)
	res.FromAlertsPerSec, res.ToAlertsPerSec = median(fromRates), median(toRates)
	return res, nil
}

// sideRound is what one round measured on one side.
type sideRound struct {
	rate, incidents float64 // alerts/s, and with the incident builder waited for
	cpu             AlertCPU
	quiet           time.Duration // waited for every service to be idle first
	faults          [2]int64      // minor page faults of the correlator and the badge service
}

// String is the round in a phrase, for progress lines.
func (g sideRound) String() string {
	return fmt.Sprintf("%.0f alerts/s; %s; page faults: correlator %d, badge %d (after %.1f s quiet)",
		g.rate, g.cpu, g.faults[0], g.faults[1], g.quiet.Seconds())
}

// round pushes n alerts through the side once every service of pids is idle, following the
// round's block of sampled users (block rounds is the warm-up's).
func (s *pairedSide) round(ctx context.Context, mode string, block, n int, pids []int) (sideRound, error) {
	// The harness's process holds both servers, the larger with a million KV keys: its
	// collection, forced here, would otherwise fall into one side's round.
	runtime.GC()
	var got sideRound
	got.quiet = waitQuiet(pids, 30*time.Second)
	s.step.label = fmt.Sprintf("paired %s %d round %d", mode, s.users, block)
	s.step.throughputSampled = s.step.throughputSampled[:0]
	for u := block * s.sampled; u < (block+1)*s.sampled; u++ {
		s.step.throughputSampled = append(s.step.throughputSampled, u)
	}
	clock, svcPids := readProcClock(s.svc), s.svc.pids()
	faults := [2]int64{procsFaults(svcPids[:1]), procsFaults(svcPids[1:])}
	var err error
	if got.rate, got.incidents, err = s.step.throughput(ctx, n); err != nil {
		return got, err
	}
	got.cpu = clock.per1k(s.svc, n)
	got.faults = [2]int64{procsFaults(svcPids[:1]) - faults[0], procsFaults(svcPids[1:]) - faults[1]}
	return got, nil
}

// plan makes the side's throughput step for one mode: every round's sampled users (and the
// warm-up's) reserved at the start of the directory (the history was just emptied, so none has an alert), the bulk
// alerts on cfg.ActiveUsers other users, drawn once for all rounds.
func (s *pairedSide) plan(mode string, rounds, perRound int, cfg Config) error {
	s.sampled = samples(perRound, s.users)
	if (rounds+1)*s.sampled > s.users/2 {
		return fmt.Errorf("%d users are too few to sample %d rounds of %d alerts", s.users, rounds+1, perRound)
	}
	seed := uint64(s.users)
	if mode == SyncAlways {
		seed++
	}
	s.step = &sizeStep{js: s.srv.js, svc: s.svc, users: s.users, fresh: 0, reservedEnd: (rounds + 1) * s.sampled,
		progress: cfg.Progress, rng: rand.New(rand.NewPCG(seed, uint64(rounds)))}
	if cfg.ActiveUsers >= 0 {
		s.step.active = s.step.drawActive(cfg.ActiveUsers)
	}
	return nil
}

// byPairs is the median over consecutive pairs of rounds of each pair's geometric mean.
func byPairs(rounds []float64) float64 {
	var pairs []float64
	for i := 0; i+1 < len(rounds); i += 2 {
		pairs = append(pairs, math.Sqrt(rounds[i]*rounds[i+1]))
	}
	return median(pairs)
}

// median is the middle of xs (the mean of the two middle ones for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// ratios lists xs with two decimals, for progress lines.
func ratios(xs []float64) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%.2f", x)
	}
	return out
}
