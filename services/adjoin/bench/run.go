package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"
)

// Run measures everything cfg asks for, prints the table on out and returns the report.
// Progress goes to cfg.Progress.
func Run(ctx context.Context, cfg Config, out io.Writer) (*Report, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	work := cfg.WorkDir
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "adjoin-bench-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(work)
	}
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(cfg.Progress, "bench: [%s] %s\n", time.Since(start).Round(time.Second), fmt.Sprintf(format, args...))
	}
	if cfg.ServerGOGC > 0 {
		defer debug.SetGCPercent(debug.SetGCPercent(cfg.ServerGOGC))
	}
	runCPU := startCPUWindow()
	rep := &Report{ServerGOGC: cfg.ServerGOGC, Machine: machine(cfg.RepoDir), Started: start, Quick: cfg.Quick, AlertsPerSize: cfg.Alerts, Only: cfg.Only}
	binDir, err := binaries(ctx, cfg.BinDir, cfg.RepoDir, work, cfg.Progress)
	if err != nil {
		return nil, err
	}
	if cfg.runs(PhaseIngest) {
		say("parse + detect on the recordings of %s", cfg.DataDir)
		if rep.Ingest, err = measureIngest(cfg.DataDir, cfg.IngestFor); err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		say("DC traffic sensor on the largest capture of %s", cfg.DataDir)
		if rep.Sensor, err = measureSensor(cfg.DataDir, cfg.IngestFor); err != nil {
			return nil, fmt.Errorf("sensor: %w", err)
		}
	}
	r := &matrix{cfg: cfg, binDir: binDir, say: say}
	if err := r.run(ctx, filepath.Join(work, "store"), rep); err != nil {
		return nil, err
	}
	rep.Seconds, rep.OtherCPUShare = time.Since(start).Seconds(), runCPU.otherShare()
	say("done")
	rep.WriteTable(out)
	return rep, nil
}

// matrix measures every directory size in every sync mode on one server and one store: the
// directory grows size by size, and at each size the server is restarted in each sync mode,
// the alert history emptied (resetHistory) and the services started on it. GetBadge and
// memory are measured once, in the first mode at the largest size (neither depends on the
// sync mode).
type matrix struct {
	cfg    Config
	binDir string
	say    func(string, ...any)
}

func (r *matrix) settle() time.Duration {
	if r.cfg.Quick {
		return time.Second
	}
	return 3 * time.Second
}

func (r *matrix) run(ctx context.Context, dir string, rep *Report) error {
	srv, err := startServer(ctx, dir, false)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer func() { srv.stop() }()
	if r.cfg.runs(PhaseMemory) {
		r.say("memory of the services on an empty directory")
		if rep.Memory, err = memoryBefore(ctx, r.binDir, srv.url(), r.settle(), r.cfg.Progress); err != nil {
			return fmt.Errorf("memory: %w", err)
		}
	}
	modes := r.cfg.syncs()
	for _, mode := range modes {
		run := SyncRun{Sync: mode, SyncInterval: "always"}
		if mode != SyncAlways {
			run.SyncInterval = "default (2m)"
		}
		if r.cfg.runs(PhaseRaw) {
			if err := srv.setSync(mode == SyncAlways); err != nil {
				return err
			}
			r.say("[%s] raw JetStream baseline: %d messages", mode, r.cfg.Alerts)
			if run.Raw, err = measureRaw(ctx, srv.js, r.cfg.Alerts); err != nil {
				return fmt.Errorf("sync %s: raw baseline: %w", mode, err)
			}
		}
		if r.cfg.runs(PhaseFloor) {
			r.say("[%s] the contract's floor: %d alerts through ALERTS, COUNTS, CORRELATED and a record, no adjoin code", mode, r.cfg.Alerts)
			if run.Floor, err = measureFloor(ctx, srv.js, r.cfg.Alerts, run.Raw); err != nil {
				return fmt.Errorf("sync %s: %w", mode, err)
			}
		}
		rep.Runs = append(rep.Runs, run)
	}
	loaded := 0
	for _, size := range r.cfg.Sizes {
		// The directory goes in with the default sync: a million synced writes would take
		// longer than the whole run.
		if err := srv.setSync(false); err != nil {
			return err
		}
		r.say("[%d] directory: users %d to %d", size, loaded, size)
		t := time.Now()
		if err := loadUsers(ctx, srv.js, loaded, size, r.cfg.Progress); err != nil {
			return fmt.Errorf("directory: %w", err)
		}
		load := time.Since(t).Seconds()
		for i, mode := range modes {
			label := fmt.Sprintf("%s %d", mode, size)
			if err := srv.setSync(mode == SyncAlways); err != nil {
				return err
			}
			if err := resetHistory(ctx, srv.js); err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			r.say("[%s] alert history emptied; starting adjoin-correlator, then adjoin-badge", label)
			svc, err := startServices(ctx, r.binDir, srv.url(), r.cfg.Progress)
			if err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			res := SizeResult{Entities: size, Alerts: r.cfg.Alerts, LoadSeconds: load,
				CorrelatorReadySeconds: svc.correlatorReady.Seconds(), BadgeReadySeconds: svc.badgeReady.Seconds(),
				ReadyCPU: svc.readyCPU.seconds()}
			err = r.measureSize(ctx, srv, svc, label, loaded, i, &res, rep)
			svc.stop()
			if err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			if i == 0 && size == r.cfg.Sizes[len(r.cfg.Sizes)-1] {
				r.say("[%s] directory snapshot, then adjoin-correlator and adjoin-badge started again", label)
				if res.Restart, err = restartFromSnapshot(ctx, srv, r.binDir, size, r.cfg.Progress); err != nil {
					return fmt.Errorf("%s: %w", label, err)
				}
				r.say("[%s] snapshot %.1f s (%s); ready after restart: correlator %.1f s, badge %.1f s (%s)", label, res.Restart.SnapshotSeconds,
					mib(int64(res.Restart.SnapshotBytes)), res.Restart.CorrelatorReadySeconds, res.Restart.BadgeReadySeconds, res.Restart.ReadyCPU)
			}
			run := &rep.Runs[i]
			if run.Raw.RoundTripPerSec > 0 {
				res.Ratio = res.AlertsPerSec / run.Raw.RoundTripPerSec
			}
			run.Sizes = append(run.Sizes, res)
			r.say("[%s] ready after start: correlator %.1f s, badge %.1f s (%s)", label, res.CorrelatorReadySeconds, res.BadgeReadySeconds, res.ReadyCPU)
			if !r.cfg.runs(PhaseE2E) {
				continue
			}
			r.say("[%s] %.0f alerts/s on %s (%.0f/s with incidents; %s); latency p50 %.1f ms, p99 %.1f ms at %.0f alerts/s",
				label, res.AlertsPerSec, activeUsers(res.ActiveUsers), res.WithIncidentsPerSec, res.CPU, res.LatencyP50Ms, res.LatencyP99Ms, res.LatencyLoadPerSec)
		}
		loaded = size
	}
	if r.cfg.runs(PhaseE2E) {
		for i := range rep.Runs {
			rep.Runs[i].Scale = scaleOf(rep.Runs[i].Sizes)
		}
	}
	if r.cfg.runs(PhaseScale) && len(r.cfg.Sizes) > 1 {
		if err := r.paired(ctx, srv, dir+"-small", rep); err != nil {
			return err
		}
	}
	if r.cfg.runs(PhaseGrowth) {
		if err := r.growth(ctx, srv, loaded, rep); err != nil {
			return fmt.Errorf("growth: %w", err)
		}
	}
	return nil
}

// growth runs the growth phase on the directory as loaded, in the last sync mode asked for
// (under sync always, 200,000 alerts take long: give --sync default).
func (r *matrix) growth(ctx context.Context, srv *jsServer, users int, rep *Report) error {
	mode := r.cfg.Syncs[len(r.cfg.Syncs)-1]
	if err := srv.setSync(mode == SyncAlways); err != nil {
		return err
	}
	r.say("[growth %s] starting adjoin-correlator, then adjoin-badge", mode)
	svc, err := startServices(ctx, r.binDir, srv.url(), r.cfg.Progress)
	if err != nil {
		return err
	}
	defer svc.stop()
	if err := waitKnown(ctx, svc.client, users-1, time.Minute); err != nil {
		return err
	}
	cpu := startCPUWindow(svc.pids()...)
	if rep.Growth, err = growth(ctx, srv.js, mode, r.cfg.GrowthAlerts, users, r.cfg.Progress); err != nil {
		return err
	}
	rep.Growth.OtherCPUShare = cpu.otherShare()
	g := rep.Growth
	r.say("[growth %s] one user %.0f alerts/s, %d users %.0f alerts/s (ratio %.2f); record %d B", mode, g.OneUserPerSec, g.SpreadUsers, g.SpreadPerSec, g.Ratio, g.RecordBytes)
	return nil
}

// measureSize runs the phases of one size in mode slot with the services running: memory
// (first mode, largest size), throughput and latency, and GetBadge (first mode, largest size).
func (r *matrix) measureSize(ctx context.Context, srv *jsServer, svc *services, label string, fresh, slot int, res *SizeResult, rep *Report) error {
	once := slot == 0 && res.Entities == r.cfg.Sizes[len(r.cfg.Sizes)-1]
	// Both services load the directory before they are ready; the last user answering is a check.
	if err := waitKnown(ctx, svc.client, res.Entities-1, time.Minute); err != nil {
		return err
	}
	if once && r.cfg.runs(PhaseMemory) {
		if err := rep.Memory.after(svc, res.Entities, r.settle()); err != nil {
			return fmt.Errorf("memory: %w", err)
		}
		r.say("[%s] memory: %s", label, rep.Memory)
	}
	e2e, badges := r.cfg.runs(PhaseE2E), once && r.cfg.runs(PhaseGetBadge)
	if !e2e && !badges {
		return nil
	}
	step, err := newSizeStep(srv.js, svc, label, fresh, res.Entities, r.cfg.Alerts, r.cfg.ActiveUsers, slot, len(r.cfg.syncs()), r.cfg.Progress)
	if err != nil {
		return err
	}
	res.ActiveUsers = len(step.active)
	if e2e {
		if err := r.endToEnd(ctx, svc, step, res); err != nil {
			return err
		}
	} else {
		// GetBadge asks for users holding one alert each: the throughput phase's sampled users,
		// given their alert here without the rest of that phase.
		r.say("[%s] one alert for each of %d users to ask GetBadge for", label, len(step.throughputSampled))
		if _, _, err := step.throughput(ctx, len(step.throughputSampled)); err != nil {
			return fmt.Errorf("alerts for GetBadge: %w", err)
		}
	}
	if !badges {
		return nil
	}
	r.say("[%s] GetBadge at concurrency %v, %d calls each, adjoin and a minimal gRPC server (own process, and in the harness's)", label, r.cfg.Concurrency, r.cfg.BadgeCalls)
	if rep.GetBadge, err = measureGetBadge(ctx, svc, r.cfg.MinimalServer, step.throughputSampled, res.Entities, r.cfg.BadgeCalls, r.cfg.Concurrency, r.cfg.Progress); err != nil {
		return fmt.Errorf("GetBadge: %w", err)
	}
	return nil
}

// endToEnd measures throughput, then latency under a paced load, into res.
func (r *matrix) endToEnd(ctx context.Context, svc *services, step *sizeStep, res *SizeResult) error {
	// Right after a start at 1M users, the server's block cache still holds the directory both
	// services just read, and the services their load's garbage: the first seconds' alerts
	// cost the correlator a third more CPU and the server three quarters more than later ones
	// (2026-12-08). The figure is the size's, not the start's (ready times are measured apart).
	runtime.GC()
	res.SettleSeconds = waitQuiet(svc.pids(), 30*time.Second).Seconds()
	cpu := startCPUWindow(svc.pids()...)
	clock := readProcClock(svc)
	var err error
	if res.AlertsPerSec, res.WithIncidentsPerSec, err = step.throughput(ctx, r.cfg.Alerts); err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	res.CPU = clock.per1k(svc, r.cfg.Alerts)
	// Half of what the correlator sustains with its incident builder keeping up: a load the
	// whole of it can carry for ever, so the latency is not that of a growing backlog.
	res.LatencyLoadPerSec = res.WithIncidentsPerSec / 2
	lat, err := step.latency(ctx, res.LatencyLoadPerSec, r.cfg.LatencyFor)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	res.LatencySamples, res.LatencyP50Ms, res.LatencyP99Ms = len(lat), percentileMs(lat, 0.5), percentileMs(lat, 0.99)
	res.OtherCPUShare = cpu.otherShare()
	return nil
}

// activeUsers says which users a size's throughput alerts fell on.
func activeUsers(n int) string {
	if n == 0 {
		return "every user"
	}
	return fmt.Sprintf("%d users", n)
}
