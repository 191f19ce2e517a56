package chaos_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
	"github.com/adjoin/adjoin/services/adjoin/chaos"
)

var (
	mode      chaos.Mode
	binDir    string
	buildOnce sync.Once
	bins      chaos.Binaries
	buildErr  error
)

// TestMain reads ADJOIN_CHAOS and prints every scenario's figures and verdict at the end.
func TestMain(m *testing.M) {
	flag.Parse()
	var err error
	if mode, err = chaos.ModeFromEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if binDir, err = os.MkdirTemp("", "adjoin-chaos-bin-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	if !testing.Short() && mode != chaos.Off {
		if failed := chaos.Summary(os.Stdout, mode); failed > 0 && code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// setup skips the scenario under -short or ADJOIN_CHAOS=off, and otherwise returns the
// binaries, built once per run.
func setup(t *testing.T) chaos.Binaries {
	t.Helper()
	if testing.Short() {
		t.Skip("fault injection: builds the binaries and runs them for a minute or more")
	}
	if mode == chaos.Off {
		t.Skip("ADJOIN_CHAOS=off")
	}
	buildOnce.Do(func() {
		start := time.Now()
		bins, buildErr = chaos.Build(binDir)
		t.Logf("built nats-server, adjoin-dcingest, adjoin-correlator in %s", time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bins
}

// stopAtEnd kills every process still running when the test ends (before its temporary
// directory goes) and, when the test failed, logs the end of each process's output.
func stopAtEnd(t *testing.T, procs ...*chaos.Proc) {
	t.Helper()
	t.Cleanup(func() {
		for _, p := range procs {
			if t.Failed() {
				t.Logf("%s output (last 3 KiB):\n%s", p.Name, p.LogTail(3072))
				if filepath.Base(p.Path) != "nats-server" { // the services only
					keep := filepath.Join(os.TempDir(), fmt.Sprintf("adjoin-chaos-%s-%s-%d.txt", t.Name(), p.Name, time.Now().Unix()))
					t.Logf("%s goroutines running adjoin code at the end:\n%s", p.Name, p.DumpGoroutines(5*time.Second, keep, 12<<10))
				}
			}
			if p.Running() {
				_ = p.Kill()
			}
		}
	})
}

// startSingle starts a single JetStream server in a fresh temporary directory, the scenario's
// working directory, and returns both.
func startSingle(t *testing.T, ctx context.Context, b chaos.Binaries) (string, *chaos.NATSServer) {
	t.Helper()
	dir := t.TempDir()
	srv, err := chaos.StartSingle(ctx, b.NATSServer, dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, srv
}

// connect connects the test to url and closes the connection at the end.
func connect(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, js, err := chaos.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return js
}

// provision creates the topology, retrying while a fresh cluster settles.
func provision(t *testing.T, ctx context.Context, js jetstream.JetStream, replicas int) {
	t.Helper()
	for {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := natsx.Provision(pctx, js, natsx.NewTopology(replicas))
		cancel()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("provision: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// recordings returns real event recordings of ../shared/data, largest sets first.
func recordings(t *testing.T) []string {
	t.Helper()
	dir := sample.Dir(t)
	var files []string
	for _, pattern := range []string{"otrf/host/*.json", "otrf/background/*.json", "evtx-to-mitre-attack/ndjson/*.json"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no recordings under %s", dir)
	}
	return files
}

// msgIDs reads a stream (on subject, "" for all) and counts each Nats-Msg-Id.
func msgIDs(t *testing.T, ctx context.Context, js jetstream.JetStream, stream, subject string) map[string]int {
	t.Helper()
	got := map[string]int{}
	err := chaos.ReadStream(ctx, js, stream, subject, func(m jetstream.Msg) error {
		got[m.Headers().Get(jetstream.MsgIDHeader)]++
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", stream, err)
	}
	return got
}

// compareIDs lists what differs between the ids stored (with their counts) and the ids
// wanted once each.
func compareIDs(what string, got map[string]int, want map[string]bool) []string {
	var problems []string
	missing, repeated, extra := 0, 0, 0
	for id := range want {
		if got[id] == 0 {
			if missing++; missing <= 3 {
				problems = append(problems, fmt.Sprintf("%s: acknowledged %s missing", what, id))
			}
		}
	}
	for id, n := range got {
		switch {
		case !want[id]:
			if extra++; extra <= 3 {
				problems = append(problems, fmt.Sprintf("%s: %s stored but never acknowledged", what, id))
			}
		case n > 1:
			if repeated++; repeated <= 3 {
				problems = append(problems, fmt.Sprintf("%s: %s stored %d times", what, id, n))
			}
		}
	}
	if missing+repeated+extra > 0 {
		problems = append(problems, fmt.Sprintf("%s: %d of %d missing, %d stored more than once, %d never acknowledged",
			what, missing, len(want), repeated, extra))
	}
	return problems
}

// streamMsgs is the number of messages of a stream on subject ("" for all).
func streamMsgs(t *testing.T, ctx context.Context, js jetstream.JetStream, stream, subject string) uint64 {
	t.Helper()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if subject == "" {
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// sleepRandom sleeps between lo and hi.
func sleepRandom(rng *rand.Rand, lo, hi time.Duration) {
	time.Sleep(lo + time.Duration(rng.Int64N(int64(hi-lo)+1)))
}

// minMedianMax formats durations as min/median/max.
func minMedianMax(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }
	return fmt.Sprintf("min %s, median %s, max %s", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]))
}
