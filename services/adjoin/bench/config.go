package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Sync modes of the JetStream server: sync_interval "always" (every write reaches the disk
// before it is acknowledged, as the shipped NATS configurations set it) or the NATS default
// (a sync every two minutes).
const (
	SyncAlways  = "always"
	SyncDefault = "default"
)

// Phases of a run, for Config.Only: the raw JetStream baseline (per sync mode); the contract's
// floor (per sync mode, after the raw baseline: the JetStream work every alert costs); end to end
// (throughput and latency at every size in every sync mode); the paired scale (the smallest and
// the largest size side by side, in the last sync mode, PairedScale); parse + detect; GetBadge and
// memory (each once, at the largest size, in the first sync mode). The services' ready times
// are recorded at every size whatever the phases.
const (
	PhaseRaw      = "raw"
	PhaseFloor    = "floor"
	PhaseE2E      = "e2e"
	PhaseScale    = "scale"
	PhaseIngest   = "ingest"
	PhaseGetBadge = "getbadge"
	PhaseMemory   = "memory"
	PhaseGrowth   = "growth"
)

// Phases lists every phase, in the order a run measures them.
var Phases = []string{PhaseIngest, PhaseMemory, PhaseRaw, PhaseFloor, PhaseE2E, PhaseScale, PhaseGetBadge, PhaseGrowth}

// Config is one run of the harness. Zero values take the defaults of a full run, or of a
// quick one when Quick is set (see Defaults).
type Config struct {
	// Syncs lists the sync modes to run everything under, in order.
	Syncs []string
	// Sizes are the directory sizes (users) of the end-to-end phase, ascending.
	Sizes []int
	// Alerts is how many alerts each size's throughput phase pushes through.
	Alerts int
	// ActiveUsers is how many users the bulk alerts of each size fall on, drawn at random from
	// the whole directory once per size (fewer when a size has fewer users to spare): every
	// size then does the same counting work and only the directory differs. -1 spreads them
	// over every user, as runs before 2026-12-07 did: a million users then get 20,000 alerts
	// on 20,000 new records where 10,000 users get two alerts each, so the sizes do different
	// work.
	ActiveUsers int
	// ServerGOGC is the GC percent of the harness's process, where the JetStream server runs:
	// DefaultServerGOGC, as docker-compose.yml runs nats-server. -1 leaves the runtime's (100,
	// or GOGC from the environment), as a nats-server started without it runs.
	ServerGOGC int
	// GrowthAlerts is how many alerts each half of the growth phase pushes through: all on one
	// user, then spread over 10,000 users (fewer when the directory is smaller).
	GrowthAlerts int
	// ScalePairs is how many pairs of rounds the paired scale runs (in the last sync mode), each
	// round pushing a quarter of Alerts through each side (PairedScale).
	ScalePairs int
	// LatencyFor is how long each size's paced latency load runs.
	LatencyFor time.Duration
	// BadgeCalls is the number of GetBadge calls per concurrency level and server.
	BadgeCalls int
	// Concurrency lists the GetBadge concurrency levels.
	Concurrency []int
	// IngestFor is the least time each ingestor's parse + detect measurement runs.
	IngestFor time.Duration
	// DataDir is shared/data, with the recordings under otrf/.
	DataDir string
	// BinDir holds the adjoin-correlator and adjoin-badge binaries the end-to-end phase runs;
	// empty takes them from beside the running executable, else builds them with `go build`
	// from RepoDir.
	BinDir string
	// RepoDir is the repository root (go.work), to build the binaries from.
	RepoDir string
	// WorkDir holds the JetStream stores; empty uses a new temporary directory.
	WorkDir string
	// Only lists the phases to run (Phase*); empty runs them all.
	Only []string
	// MinimalServer is the command (program and arguments) that serves the minimal gRPC
	// BadgeService as a process of its own, GetBadge's baseline: `adjoin bench-minimal-server`,
	// given the flags --grpc-addr and --answer. Needed by the getbadge phase.
	MinimalServer []string
	// Quick is a small smoke run; it only changes the defaults.
	Quick bool
	// Progress receives a line per step of the long phases (stderr).
	Progress io.Writer
}

// Defaults fills the settings left at zero.
func (c Config) Defaults() Config {
	pick := func(full, quick int) int {
		if c.Quick {
			return quick
		}
		return full
	}
	if len(c.Syncs) == 0 {
		c.Syncs = []string{SyncAlways, SyncDefault}
	}
	if len(c.Sizes) == 0 {
		c.Sizes = []int{10_000, 100_000, 1_000_000}
		if c.Quick {
			c.Sizes = []int{10_000}
		}
	}
	if c.Alerts == 0 {
		c.Alerts = pick(50_000, 1_000)
	}
	if c.GrowthAlerts == 0 {
		c.GrowthAlerts = pick(100_000, 2_000)
	}
	if c.ServerGOGC == 0 {
		c.ServerGOGC = DefaultServerGOGC
	}
	if c.ActiveUsers == 0 {
		c.ActiveUsers = DefaultActiveUsers
	}
	if c.ScalePairs == 0 {
		c.ScalePairs = 3
	}
	if c.LatencyFor == 0 {
		c.LatencyFor = time.Duration(pick(5, 1)) * time.Second
	}
	if c.BadgeCalls == 0 {
		c.BadgeCalls = pick(10_000, 500)
	}
	if len(c.Concurrency) == 0 {
		c.Concurrency = []int{1, 16, 64}
	}
	if c.IngestFor == 0 {
		c.IngestFor = time.Duration(pick(2000, 300)) * time.Millisecond
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Validate names the first bad setting.
func (c Config) Validate() error {
	for _, s := range c.Syncs {
		if s != SyncAlways && s != SyncDefault {
			return fmt.Errorf("sync: %q, want always, default or both", s)
		}
	}
	if len(c.Sizes) == 0 {
		return fmt.Errorf("sizes: at least one")
	}
	for i, n := range c.Sizes {
		if n < 100 || (i > 0 && n <= c.Sizes[i-1]) {
			return fmt.Errorf("sizes: %v, want ascending sizes of at least 100", c.Sizes)
		}
	}
	switch {
	case c.Alerts < 100:
		return fmt.Errorf("alerts: %d, want at least 100", c.Alerts)
	case c.ServerGOGC < -1:
		return fmt.Errorf("server-gogc: %d, want -1 (the runtime's) or a percent", c.ServerGOGC)
	case c.ActiveUsers < -1:
		return fmt.Errorf("active-users: %d, want -1 (every user) or a count", c.ActiveUsers)
	case c.GrowthAlerts < 100 || c.GrowthAlerts > 10_000_000:
		return fmt.Errorf("growth-alerts: %d, want 100 to 10000000", c.GrowthAlerts)
	case c.ScalePairs < 1 || c.ScalePairs > 20:
		return fmt.Errorf("scale-pairs: %d, want 1 to 20", c.ScalePairs)
	case c.LatencyFor < 100*time.Millisecond:
		return fmt.Errorf("latency-for: %s, want at least 100ms", c.LatencyFor)
	case c.BadgeCalls < 10:
		return fmt.Errorf("badge-calls: %d, want at least 10", c.BadgeCalls)
	case c.IngestFor <= 0:
		return fmt.Errorf("ingest-for: %s, want > 0", c.IngestFor)
	case c.DataDir == "" && c.runs(PhaseIngest):
		return fmt.Errorf("data: shared/data not found; give --data")
	}
	for _, p := range c.Only {
		if !slices.Contains(Phases, p) {
			return fmt.Errorf("only: %q, want some of %s", p, strings.Join(Phases, ", "))
		}
	}
	if c.runs(PhaseGetBadge) && len(c.MinimalServer) == 0 {
		return fmt.Errorf("getbadge: no command to run the minimal gRPC server with")
	}
	for _, n := range c.Concurrency {
		if n < 1 {
			return fmt.Errorf("concurrency: %v, want levels of at least 1", c.Concurrency)
		}
	}
	return nil
}

// DefaultServerGOGC is Config.ServerGOGC by default: the GOGC docker-compose.yml gives
// nats-server. At a million directory entities the server's live heap is ~700 MB, most of it
// the directory bucket's per-subject index, which is dense with pointers: with GOGC=100 each
// collection marks it for ~2 s of CPU, and on two cores that is the pipeline's throughput.
const DefaultServerGOGC = 300

// DefaultActiveUsers is Config.ActiveUsers by default: as many users as the smallest default
// size (10,000 users, 4,000 of them reserved for the followed alerts) has to spare, so that it
// is the same at every size.
const DefaultActiveUsers = 5_000

// samples is how many alerts of a phase of n alerts are followed to the badge, each on an
// entity of its own, chosen among the fresh entities of a size step.
func samples(n, fresh int) int {
	return max(1, min(n/20, 1000, fresh/4))
}

// runs tells whether phase is part of the run.
func (c Config) runs(phase string) bool {
	return len(c.Only) == 0 || slices.Contains(c.Only, phase)
}

// syncs are the sync modes the directory sizes are measured in: every one when the raw
// baseline, the end-to-end phase or the paired scale runs (they depend on the mode; the paired
// scale runs in the last, so `--only scale` wants `--sync default` alone to skip the sizes' starts
// under sync always), else only the first, where memory and GetBadge are measured.
func (c Config) syncs() []string {
	if c.runs(PhaseRaw) || c.runs(PhaseE2E) || c.runs(PhaseScale) {
		return c.Syncs
	}
	return c.Syncs[:1]
}
