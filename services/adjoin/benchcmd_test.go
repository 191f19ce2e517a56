package adjoin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// TestBenchQuick runs `adjoin bench --quick` end to end (both sync modes, every phase, the
// real correlator and badge binaries built and run), so the harness cannot rot, and checks
// that the JSON holds every figure and that each is positive (the share of the CPU other
// processes used may be 0).
func TestBenchQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole benchmark harness (~30s)")
	}
	data := sample.Dir(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "bench.json")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	start := time.Now()
	code := Main(ctx, []string{"bench", "--quick", "--data", data, "--work-dir", dir, "--json", file}, &out, &errOut)
	if code != 0 {
		t.Fatalf("adjoin bench --quick: exit %d after %s\nstdout:\n%s\nstderr:\n%s", code, time.Since(start), out.String(), errOut.String())
	}
	t.Logf("adjoin bench --quick took %s", time.Since(start).Round(time.Second))
	if !strings.Contains(out.String(), "| what | adjoin | baseline in the same run | ratio | other load |") ||
		!strings.Contains(out.String(), "minimal gRPC server, same answer, own process: ") {
		t.Errorf("no table on stdout:\n%s", out.String())
	}
	rep := readReport(t, file)
	// Every phase is there, in both sync modes.
	wantEntries(t, rep, map[string]int{"runs": 2, "runs.0.sizes": 1, "runs.1.sizes": 1, "ingest": 2, "get_badge": 3})
	for _, key := range []string{"go_version", "cpu", "runs.0.sync_interval", "runs.1.sync_interval"} {
		if s, _ := at(rep, key).(string); s == "" {
			t.Errorf("%s: empty", key)
		}
	}
	figures := 0
	walk(rep, "", func(path string, v float64) {
		figures++
		if strings.HasSuffix(path, "other_cpu_share") {
			if v < 0 || v > 1 {
				t.Errorf("%s = %v, want 0 to 1", path, v)
			}
		} else if !(v > 0) {
			t.Errorf("%s = %v, want > 0", path, v)
		}
	})
	for _, path := range []string{"runs.0.raw.round_trip_per_s", "runs.0.sizes.0.alerts_per_s", "runs.0.sizes.0.latency_p99_ms",
		"runs.1.sizes.0.alerts_per_s_with_incidents", "ingest.1.events_per_s", "get_badge.2.minimal_qps",
		"memory.correlator.bytes_per_entity", "memory.badge.bytes_per_entity", "memory.correlator.ready_s", "memory.badge.ready_s",
		"get_badge.0.minimal_process_qps", "get_badge.0.process_qps_ratio", "get_badge.2.process_p99_ratio", "get_badge.2.minimal_process_p99_ms"} {
		if _, ok := at(rep, path).(float64); !ok {
			t.Errorf("%s: missing", path)
		}
	}
	if figures < 60 {
		t.Errorf("%d figures in the JSON, want every one of them (60 or more)", figures)
	}
	// The binaries the quick run built, in its work directory, serve a run of a few phases.
	t.Run("only memory,getbadge", func(t *testing.T) { testBenchOnly(t, filepath.Join(dir, "bin")) })
	t.Run("only scale", func(t *testing.T) { testBenchScale(t, filepath.Join(dir, "bin")) })
}

// testBenchScale runs the paired scale phase alone on two small directories: one pair of
// rounds, each side's services on a server of its own, reported in the last sync mode.
func testBenchScale(t *testing.T, binDir string) {
	rep, out := benchReport(t, "--only", "scale", "--sizes", "1000,3000", "--sync", "default", "--alerts", "400", "--scale-pairs", "1",
		"--bin-dir", binDir, "--quick")
	wantEntries(t, rep, map[string]int{"runs": 1, "runs.0.sizes": 2, "runs.0.paired_scale.alerts_per_s_ratios": 2,
		"runs.0.paired_scale.correlator_cpu_ratios": 2})
	for path, want := range map[string]float64{"runs.0.paired_scale.from_entities": 1000, "runs.0.paired_scale.to_entities": 3000,
		"runs.0.paired_scale.pairs": 1, "runs.0.paired_scale.alerts_per_round": 100} {
		if got, _ := at(rep, path).(float64); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	for _, path := range []string{"runs.0.paired_scale.alerts_per_s_ratio", "runs.0.paired_scale.alerts_per_s_with_incidents_ratio",
		"runs.0.paired_scale.from_alerts_per_s", "runs.0.paired_scale.to_alerts_per_s"} {
		if v, _ := at(rep, path).(float64); !(v > 0) {
			t.Errorf("%s = %v, want > 0", path, at(rep, path))
		}
	}
	if v := at(rep, "runs.0.scale"); v != nil {
		t.Errorf("runs.0.scale = %v, want absent: the end-to-end phase did not run", v)
	}
	if !strings.Contains(out, "side by side") {
		t.Errorf("no paired scale row in the table:\n%s", out)
	}
}

// testBenchOnly runs `adjoin bench --only memory,getbadge` on a small directory with the
// binaries in binDir: the phases left out leave nothing in the JSON, the ones asked for are
// all there, GetBadge beside the minimal server in a process of its own (this test binary,
// through TestMain), and the memory with each service's ready time.
func testBenchOnly(t *testing.T, binDir string) {
	rep, table := benchReport(t, "--only", "memory,getbadge", "--sizes", "1000", "--alerts", "100", "--badge-calls", "40",
		"--concurrency", "1,4", "--bin-dir", binDir, "--quick")
	wantEntries(t, rep, map[string]int{"runs": 1, "runs.0.sizes": 1, "get_badge": 2, "only": 2})
	for _, path := range []string{"ingest", "runs.0.scale"} {
		if v := at(rep, path); v != nil {
			t.Errorf("%s = %v, want absent: its phase did not run", path, v)
		}
	}
	for _, path := range []string{"runs.0.raw.round_trip_per_s", "runs.0.sizes.0.alerts_per_s"} {
		if v, _ := at(rep, path).(float64); v != 0 {
			t.Errorf("%s = %v, want 0: its phase did not run", path, v)
		}
	}
	for _, path := range []string{"runs.0.sizes.0.correlator_ready_s", "runs.0.sizes.0.badge_ready_s", "memory.correlator.ready_s",
		"memory.badge.bytes_per_entity", "get_badge.1.minimal_process_qps", "get_badge.1.process_qps_ratio", "get_badge.1.process_p99_ratio",
		"get_badge.1.minimal_qps", "get_badge.1.qps"} {
		if v, _ := at(rep, path).(float64); !(v > 0) {
			t.Errorf("%s = %v, want > 0", path, at(rep, path))
		}
	}
	if e, _ := at(rep, "memory.entities").(float64); e != 1000 {
		t.Errorf("memory.entities = %v, want 1000", e)
	}
	if strings.Contains(table, "raw JetStream") || strings.Contains(table, "alerts/s") {
		t.Errorf("the table shows a phase that did not run:\n%s", table)
	}
}

// benchReport runs `adjoin bench` with args in a work directory of its own (at most two minutes)
// and returns the JSON it wrote, decoded, and the table it printed.
func benchReport(t *testing.T, args ...string) (map[string]any, string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "bench.json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	args = append([]string{"bench", "--work-dir", dir, "--json", file}, args...)
	if code := Main(ctx, args, &out, &errOut); code != 0 {
		t.Fatalf("adjoin %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
	return readReport(t, file), out.String()
}

// readReport reads the JSON report in file.
func readReport(t *testing.T, file string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// wantEntries checks that each path of rep is a list of that many entries (absent: none).
func wantEntries(t *testing.T, rep map[string]any, want map[string]int) {
	t.Helper()
	for path, n := range want {
		if got, _ := at(rep, path).([]any); len(got) != n {
			t.Errorf("%s: %d entries, want %d", path, len(got), n)
		}
	}
}

// at follows a dotted path of keys and indexes into decoded JSON; nil when absent.
func at(v any, path string) any {
	for key := range strings.SplitSeq(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[key]
		case []any:
			var i int
			if _, err := fmt.Sscan(key, &i); err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// walk calls f with every number in decoded JSON and its path.
func walk(v any, path string, f func(string, float64)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			walk(e, strings.TrimPrefix(path+"."+k, "."), f)
		}
	case []any:
		for i, e := range x {
			walk(e, fmt.Sprintf("%s.%d", path, i), f)
		}
	case float64:
		f(path, x)
	}
}
