package adjoin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/services/adjoin/bench"
)

// runBench is `adjoin bench`: every performance figure of adjoin beside its baseline, in one
// run on an embedded JetStream server (package bench says what is measured and how).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var sync, sizes, conc, jsonFile, only string
	var cfg bench.Config
	s := commandSet("bench")
	s.String(&sync, "sync", "both", "JetStream sync_interval to run under: always (as shipped), default (NATS's 2 minutes), or both")
	s.String(&sizes, "sizes", "", "directory sizes (users) of the end-to-end phase, comma-separated (default 10000,100000,1000000; --quick: 10000)")
	s.Int(&cfg.Alerts, "alerts", 0, "alerts per directory size in the throughput phase (default 50000: under the default sync 20000 lasted 1.4 s and the 1M/10k ratio of five runs spread over 0.82-1.19; --quick: 1000)")
	s.Int(&cfg.ActiveUsers, "active-users", 0, "users the throughput phase's alerts fall on at every size, drawn from the whole directory, so every size counts the same (default 5000; -1: spread over every user, so a larger directory also means more new records)")
	s.Int(&cfg.ServerGOGC, "server-gogc", 0, "GC percent of the embedded JetStream server's process (default 300, as docker-compose.yml runs nats-server; -1: the runtime's, 100 unless GOGC is set)")
	s.Int(&cfg.GrowthAlerts, "growth-alerts", 0, "alerts of each half of the growth phase: all on one user, then spread over 10,000 users (default 100000; --quick: 2000); it runs in the last sync mode")
	s.Int(&cfg.ScalePairs, "scale-pairs", 0, "pairs of rounds of the scale phase, in the last sync mode: the smallest and the largest size side by side on two servers, a quarter of --alerts through each per round, the order swapped within a pair (default 3)")
	s.Duration(&cfg.LatencyFor, "latency-for", 0, "length of each size's paced latency load (default 5s; --quick: 1s)")
	s.Int(&cfg.BadgeCalls, "badge-calls", 0, "GetBadge calls per concurrency level and server (default 10000; --quick: 500)")
	s.String(&conc, "concurrency", "1,16,64", "GetBadge concurrency levels, comma-separated")
	s.Duration(&cfg.IngestFor, "ingest-for", 0, "least time of each ingestor's parse + detect measurement (default 2s; --quick: 300ms)")
	s.String(&cfg.DataDir, "data", "", "shared/data with the recordings (default: found above the working directory)")
	s.String(&cfg.BinDir, "bin-dir", "", "directory of the adjoin-correlator and adjoin-badge binaries to run (default: beside this binary, else built with go build)")
	s.String(&cfg.WorkDir, "work-dir", "", "directory for the JetStream stores (default: a new temporary directory, removed after)")
	s.String(&jsonFile, "json", "", "also write every figure as JSON to this file")
	s.Env("json", "ADJOIN_BENCH_JSON") // ADJOIN_JSON is a yes/no in the client commands
	s.String(&only, "only", "", "run only these phases, comma-separated, of "+strings.Join(bench.Phases, ", ")+
		" (default all; ready times are measured whatever the phases). Memory and GetBadge run at the largest size only, in the first sync mode:"+
		" --only memory,getbadge --sizes 10000,1000000 takes a few minutes")
	s.Bool(&cfg.Quick, "quick", false, "a small smoke run (~30s): one size of 10k users, 1000 alerts, short phases")
	if done, err := parse(s, args, stdout); done || err != nil {
		return err
	}
	switch sync {
	case "both":
		cfg.Syncs = []string{bench.SyncAlways, bench.SyncDefault}
	case bench.SyncAlways, bench.SyncDefault:
		cfg.Syncs = []string{sync}
	default:
		return fmt.Errorf("sync: %q, want always, default or both", sync)
	}
	cfg.Only = config.SplitList(only)
	var err error
	if cfg.Sizes, err = ints("sizes", sizes); err != nil {
		return err
	}
	if cfg.Concurrency, err = ints("concurrency", conc); err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if cfg.DataDir == "" {
		if dir := bench.FindUp(wd, filepath.Join("shared", "data")); dir != "" {
			cfg.DataDir = filepath.Join(dir, "shared", "data")
		}
	}
	cfg.RepoDir = bench.FindUp(wd, "go.work")
	// GetBadge's baseline runs as a process of its own, this binary's hidden command (under
	// go test, the test binary's TestMain stands in for it).
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.MinimalServer = []string{exe, BenchMinimalCommand}
	cfg.Progress = stderr
	start := time.Now()
	rep, err := bench.Run(ctx, cfg, stdout)
	if err != nil {
		return fmt.Errorf("bench (after %s): %w", time.Since(start).Round(time.Second), err)
	}
	if jsonFile != "" {
		if err := rep.WriteJSON(jsonFile); err != nil {
			return fmt.Errorf("json: %w", err)
		}
		fmt.Fprintf(stderr, "adjoin bench: figures written to %s\n", jsonFile)
	}
	return nil
}

// ints parses a comma-separated list of integers; empty is nil.
func ints(name, s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a number", name, f)
		}
		out = append(out, n)
	}
	return out, nil
}
