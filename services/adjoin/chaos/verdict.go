package chaos

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Verdict collects the checks of one scenario: each passes or fails, and the scenario ends
// with a line "N passed, N failed". Figures are what the scenario did (kills, timings), kept
// for the run's summary.
type Verdict struct {
	t        testing.TB
	Scenario string
	Passed   int
	Failed   int
	Figures  []string
}

var (
	verdictsMu sync.Mutex
	verdicts   []*Verdict
)

// NewVerdict starts the verdict of a scenario; its summary joins the run's (Summary).
func NewVerdict(t testing.TB, scenario string) *Verdict {
	v := &Verdict{t: t, Scenario: scenario}
	verdictsMu.Lock()
	verdicts = append(verdicts, v)
	verdictsMu.Unlock()
	t.Cleanup(v.finish)
	return v
}

// Check records a check that passes when problems is empty, and fails the test with them
// otherwise.
func (v *Verdict) Check(name string, problems ...string) bool {
	v.t.Helper()
	if len(problems) == 0 {
		v.Passed++
		v.t.Logf("PASS %s", name)
		return true
	}
	v.Failed++
	v.t.Errorf("FAIL %s:\n  %s", name, strings.Join(problems, "\n  "))
	return false
}

// Checkf is Check of a single condition.
func (v *Verdict) Checkf(name string, ok bool, format string, args ...any) bool {
	v.t.Helper()
	if ok {
		return v.Check(name)
	}
	return v.Check(name, fmt.Sprintf(format, args...))
}

// Figure logs what the scenario did and keeps it for the summary.
func (v *Verdict) Figure(format string, args ...any) {
	v.t.Helper()
	s := fmt.Sprintf(format, args...)
	v.Figures = append(v.Figures, s)
	v.t.Log(s)
}

func (v *Verdict) finish() {
	if v.t.Failed() && v.Failed == 0 {
		v.Failed++ // the scenario stopped before its checks (setup error, timeout)
	}
	v.t.Logf("%s: %d passed, %d failed", v.Scenario, v.Passed, v.Failed)
}

// Summary writes every scenario's figures and verdict, then the run's verdict line, and
// returns the number of failed checks.
func Summary(w io.Writer, mode Mode) int {
	verdictsMu.Lock()
	defer verdictsMu.Unlock()
	passed, failed := 0, 0
	sort.SliceStable(verdicts, func(i, j int) bool { return verdicts[i].Scenario < verdicts[j].Scenario })
	fmt.Fprintf(w, "\n=== chaos summary (%s)\n", mode)
	for _, v := range verdicts {
		fmt.Fprintf(w, "%s: %d passed, %d failed\n", v.Scenario, v.Passed, v.Failed)
		for _, f := range v.Figures {
			fmt.Fprintf(w, "    %s\n", f)
		}
		passed += v.Passed
		failed += v.Failed
	}
	fmt.Fprintf(w, "chaos: %d scenarios, %d passed, %d failed\n", len(verdicts), passed, failed)
	return failed
}
