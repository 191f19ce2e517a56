package adjoin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// detectSummaryGolden is the committed summary of `adjoin detect` over every recording.
const detectSummaryGolden = "testdata/detect-summary.md"

// detectSummaryExtra are real recordings kept in this repository rather than shared/data.
var detectSummaryExtra = []string{
	"../../pkg/ingest/sambaaudit/testdata/samba-start.log",
	"../../pkg/ingest/sambaaudit/testdata/samba-audit.log",
}

// TestDetectSummary runs `adjoin detect` (no directory, no flags: as a new user would) over
// every event log and packet capture of shared/data, each file on its own, plus the Samba DC
// captures, and
// compares the table of what it raised, file by file, with the committed golden file, which is
// reviewed by hand for false positives. A detector change that adds or loses an alert on any
// recording fails here until the golden is regenerated:
//
//	ADJOIN_UPDATE_GOLDEN=1 go test -run TestDetectSummary ./services/adjoin/
func TestDetectSummary(t *testing.T) {
	t.Parallel()
	dir := sample.Dir(t)
	var logs []string
	skipped := map[string]int{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch ext := strings.ToLower(filepath.Ext(rel)); {
		case ext == ".json" || ext == ".log", ext == ".cap" || ext == ".pcap": // captures through the DC traffic sensor
			logs = append(logs, rel)
		default:
			skipped[ext]++
		}
		return nil
	})
	if err != nil || len(logs) == 0 {
		t.Fatalf("no recordings under %s: %v", dir, err)
	}
	sort.Strings(logs)
	var b strings.Builder
	b.WriteString("# `adjoin detect` over every recording\n\n")
	b.WriteString("Written by `TestDetectSummary` (services/adjoin/detect_summary_test.go); regenerate with\n")
	b.WriteString("`ADJOIN_UPDATE_GOLDEN=1 go test -run TestDetectSummary ./services/adjoin/` and review the diff\n")
	b.WriteString("for false positives. Each file is read on its own by `adjoin detect FILE` with no directory\n")
	b.WriteString("(a capture through the DC traffic sensor, recognised by its magic number)\n")
	b.WriteString("and no flags; alerts are counted per detector, with the MITRE techniques they carry.\n\n")
	b.WriteString("| file | events | lines refused | alerts (detector, techniques: count) |\n|---|---|---|---|\n")
	for _, rel := range logs {
		b.WriteString(detectSummaryRow(t, "shared/data/"+filepath.ToSlash(rel), filepath.Join(dir, rel)))
	}
	for _, path := range detectSummaryExtra {
		b.WriteString(detectSummaryRow(t, strings.TrimPrefix(path, "../../"), path))
	}
	exts := make([]string, 0, len(skipped))
	for ext, n := range skipped {
		exts = append(exts, fmt.Sprintf("%d `%s`", n, ext))
	}
	sort.Strings(exts)
	fmt.Fprintf(&b, "\nNot read (not event logs or captures: the EVTX originals of the NDJSON files, documents, scripts): %s.\n",
		strings.Join(exts, ", "))
	got := b.String()
	if os.Getenv("ADJOIN_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(detectSummaryGolden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(detectSummaryGolden)
	if err != nil {
		t.Fatalf("%v: run ADJOIN_UPDATE_GOLDEN=1 go test -run TestDetectSummary ./services/adjoin/", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			g, w := detectSummaryLine(gl, i), detectSummaryLine(wl, i)
			if g != w {
				t.Errorf("line %d:\n got  %s\n want %s", i+1, g, w)
			}
		}
		t.Errorf("%s is out of date: review the lines above, then ADJOIN_UPDATE_GOLDEN=1 go test -run TestDetectSummary ./services/adjoin/", detectSummaryGolden)
	}
}

// detectSummaryRow runs adjoin detect over one file and writes its table row.
func detectSummaryRow(t *testing.T, name, path string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := runDetect(context.Background(), []string{path}, &out, &errOut); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var events, refused int
	sc := bufio.NewScanner(&errOut)
	sc.Buffer(nil, 1<<20)
	found := false
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "adjoin detect: %d events (%d lines refused)", &events, &refused); err == nil {
			found = true
		}
	}
	if !found {
		t.Fatalf("%s: no summary line on stderr", name)
	}
	counts := map[string]int{}
	for line := range strings.Lines(out.String()) {
		var a struct {
			Detector        string   `json:"detector"`
			MitreTechniques []string `json:"mitreTechniques"`
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("%s: alert %q: %v", name, line, err)
		}
		counts[a.Detector+" "+strings.Join(a.MitreTechniques, ",")]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cells := make([]string, 0, len(keys))
	for _, k := range keys {
		cells = append(cells, fmt.Sprintf("%s: %d", k, counts[k]))
	}
	alerts := strings.Join(cells, "; ")
	if alerts == "" {
		alerts = "—"
	}
	return fmt.Sprintf("| %s | %d | %d | %s |\n", strings.ReplaceAll(name, "|", `\|`), events, refused, alerts)
}

func detectSummaryLine(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(none)"
}
