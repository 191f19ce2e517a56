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

	"github.com/adjoin/adjoin/pkg/sample"
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
	if !strings.Contains(out.String(), "| what | adjoin | baseline in the same run | ratio | other load |") {
		t.Errorf("no table on stdout:\n%s", out.String())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	// Every phase is there, in both sync modes.
	for _, want := range []struct {
		path string
		n    int
	}{{"runs", 2}, {"runs.0.sizes", 1}, {"runs.1.sizes", 1}, {"ingest", 2}, {"get_badge", 3}} {
		if got := len(at(rep, want.path).([]any)); got != want.n {
			t.Errorf("%s: %d entries, want %d", want.path, got, want.n)
		}
	}
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
		"memory.correlator.bytes_per_entity", "memory.badge.bytes_per_entity"} {
		if _, ok := at(rep, path).(float64); !ok {
			t.Errorf("%s: missing", path)
		}
	}
	if figures < 60 {
		t.Errorf("%d figures in the JSON, want every one of them (60 or more)", figures)
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
