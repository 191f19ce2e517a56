package adjoin

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/services/dcingest"
	"github.com/adjoin/adjoin/services/endpointingest"
)

// detectionsPage is the page with the detector table.
const detectionsPage = "../../docs/detections.md"

// detectorTableHeader is the header row of the detector table of docs/detections.md.
const detectorTableHeader = "| side | detector | what | sources | tested on | MITRE |"

// detectorTableHelpers are registered detectors that raise no alert of their own: they keep
// state other detectors read (logon sessions, process trees), so they have no row.
var detectorTableHelpers = map[string]bool{"logon-sessions": true, "processes": true}

// TestDetectorTable checks the detector table of docs/detections.md against the detectors
// both ingestors register, the set `adjoin detect` runs: every detector has a row
// on its side ("identity", "identity (Zeek)", "endpoint") with every column filled, and every
// row names a registered detector.
func TestDetectorTable(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile(detectionsPage)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := detectorTableRows(string(page))
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]map[string]bool{"identity": {}, "endpoint": {}}
	for _, d := range dcingest.Detectors(directory.NewIndex(), dcingest.DetectorOptions{}) {
		registered["identity"][d.Name()] = true
	}
	for _, d := range endpointingest.Detectors() {
		registered["endpoint"][d.Name()] = true
	}
	for name := range detectorTableHelpers {
		if !registered["identity"][name] && !registered["endpoint"][name] {
			t.Errorf("helper %q is no longer registered: drop it from detectorTableHelpers", name)
		}
	}
	listed := map[string]map[string]bool{"identity": {}, "endpoint": {}}
	for _, r := range rows {
		side := strings.Fields(r.cells[0])[0]
		if registered[side] == nil {
			t.Errorf("row %q: side %q is not identity or endpoint", r.line, r.cells[0])
			continue
		}
		for i, c := range r.cells {
			if strings.TrimSpace(c) == "" {
				t.Errorf("row %q: column %d is empty", r.line, i+1)
			}
		}
		for _, name := range r.names {
			if !registered[side][name] {
				t.Errorf("docs/detections.md lists %s detector %q, which the %s ingestor does not register", side, name, side)
			}
			listed[side][name] = true
		}
	}
	for side, names := range registered {
		var missing []string
		for name := range names {
			if !listed[side][name] && !detectorTableHelpers[name] {
				missing = append(missing, name)
			}
		}
		sort.Strings(missing)
		for _, name := range missing {
			t.Errorf("%s detector %q has no row in the detector table of docs/detections.md (%s)", side, name, detectorTableHeader)
		}
	}
}

type detectorTableRow struct {
	line  string
	cells []string // side, detector, what, sources, tested on, MITRE
	names []string // the backquoted names of the detector cell
}

// detectorTableRows reads the table under detectorTableHeader on the detections page, before
// its first subsection.
func detectorTableRows(page string) ([]detectorTableRow, error) {
	section, _, _ := strings.Cut(page, "\n## ")
	_, table, ok := strings.Cut(section, "\n"+detectorTableHeader+"\n")
	if !ok {
		return nil, errors.New(detectionsPage + " has no table headed " + detectorTableHeader + " before its first subsection")
	}
	var rows []detectorTableRow
	for i, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "|") {
			break
		}
		if i == 0 { // the |---| row
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 6 {
			return nil, fmt.Errorf("detector table row has %d columns, want 6: %s", len(cells), line)
		}
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		r := detectorTableRow{line: line, cells: cells}
		parts := strings.Split(cells[1], "`")
		for j := 1; j < len(parts); j += 2 {
			r.names = append(r.names, parts[j])
		}
		if len(r.names) == 0 || slices.Contains(r.names, "") {
			return nil, errors.New("detector table row names no `detector`: " + line)
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, errors.New(detectionsPage + "'s detector table has no rows")
	}
	return rows, nil
}
