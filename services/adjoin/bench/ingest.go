package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/services/adjoin/demo"
	"github.com/adjoin/adjoin/services/dcingest"
	"github.com/adjoin/adjoin/services/endpointingest"
)

// IngestResult is one ingestor's parse + detect rate on one core, over the Windows recordings
// of shared/data, beside plain JSON decoding of the same lines.
type IngestResult struct {
	Ingestor string `json:"ingestor"`
	// Events per pass over the recordings (every line that parses); Files read.
	Events int `json:"events"`
	Files  int `json:"files"`
	// EventsPerSec is intake.ParseAny (what both ingestors run on each line) and the
	// ingestor's detectors, fresh for each pass, one goroutine.
	EventsPerSec float64 `json:"events_per_s"`
	// JSONPerSec is the baseline: encoding/json decoding each line into a map, one goroutine.
	JSONPerSec float64 `json:"json_decode_per_s"`
	// Ratio is EventsPerSec / JSONPerSec.
	Ratio float64 `json:"ratio"`
	// OtherCPUShare is the machine's CPU other processes used meanwhile (cpuWindow).
	OtherCPUShare float64 `json:"other_cpu_share"`
}

// recordings are the Windows event recordings (NDJSON) of shared/data that the ingestors read.
var recordings = []string{"otrf/host/*.json", "otrf/background/*.json"}

// readLines returns every non-empty line of the recordings, in file order.
func readLines(dataDir string) ([][]byte, int, error) {
	var files []string
	for _, pattern := range recordings {
		m, err := filepath.Glob(filepath.Join(dataDir, pattern))
		if err != nil {
			return nil, 0, err
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	if len(files) == 0 {
		return nil, 0, fmt.Errorf("no recordings %v under %s", recordings, dataDir)
	}
	var lines [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, 0, err
		}
		for line := range bytes.SplitSeq(b, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				lines = append(lines, line)
			}
		}
	}
	return lines, len(files), nil
}

// measureIngest runs each ingestor's parse + detect over lines for at least d (whole passes).
func measureIngest(dataDir string, d time.Duration) ([]IngestResult, error) {
	lines, files, err := readLines(dataDir)
	if err != nil {
		return nil, err
	}
	shire, err := dcingest.ReadLDIF(bytes.NewReader(demo.TheShireLDIF), "", "ldif:embedded-demo")
	if err != nil {
		return nil, err
	}
	jsonCPU := startCPUWindow()
	jsonRate, _ := passes(d, func() (int, error) {
		n := 0
		for _, line := range lines {
			var m map[string]any
			if json.Unmarshal(line, &m) == nil {
				n++
			}
		}
		return n, nil
	})
	jsonOther := jsonCPU.otherShare()
	var out []IngestResult
	for _, ing := range []struct {
		name      string
		detectors func() []detection.Detector
	}{
		{"dcingest", func() []detection.Detector {
			index := directory.NewIndex() // the DC ingestor knows the directory: the demo lab's
			for _, e := range shire {
				index.Put(e)
			}
			return dcingest.Detectors(index, dcingest.DetectorOptions{})
		}},
		{"endpointingest", endpointingest.Detectors},
	} {
		events := 0
		cpu := startCPUWindow()
		rate, err := passes(d, func() (int, error) {
			detectors := ing.detectors()
			events = 0
			for _, line := range lines {
				ev, err := intake.ParseAny(line, "")
				if err != nil {
					continue
				}
				events++
				_ = detection.Run(detectors, ev)
			}
			if events == 0 {
				return 0, fmt.Errorf("no line of the recordings under %s parsed", dataDir)
			}
			return events, nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, IngestResult{Ingestor: ing.name, Events: events, Files: files, EventsPerSec: rate,
			JSONPerSec: jsonRate, Ratio: rate / jsonRate, OtherCPUShare: max(cpu.otherShare(), jsonOther)})
	}
	return out, nil
}

// passes runs pass until at least d went by and returns the items per second over all passes.
func passes(d time.Duration, pass func() (int, error)) (float64, error) {
	start := time.Now()
	items := 0
	for items == 0 || time.Since(start) < d {
		n, err := pass()
		if err != nil {
			return 0, err
		}
		items += n
	}
	return float64(items) / time.Since(start).Seconds(), nil
}
