package adjoin

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
	"github.com/adjoin/adjoin/services/dcingest"
	"github.com/adjoin/adjoin/services/endpointingest"
)

// FuzzDetectors runs every detector of both ingestors over events parsed from mutated lines of
// the recordings in shared/data (Windows Security, Sysmon, Zeek JSON). Each event is fed 24
// times, a second apart and with the target account changing every other time, so the
// stateful detectors (sprays, bursts, sessions) cross their thresholds on it. No detector may
// panic, and every alert must be one the correlator can count: an id, a detector, a side, an
// entity reference, and a payload JetStream takes.
func FuzzDetectors(f *testing.F) {
	for _, line := range detectorSeeds(f) {
		f.Add(line)
	}
	index := directory.NewIndex()
	ldif, err := os.Open("demo/theshire.ldif")
	if err != nil {
		f.Fatal(err)
	}
	entities, err := dcingest.ReadLDIF(ldif, "THESHIRE", "ldif:theshire.ldif")
	ldif.Close()
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entities {
		index.Put(e)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, err := intake.ParseAny(line, "")
		if err != nil {
			return
		}
		detectors := append(dcingest.Detectors(index, dcingest.DetectorOptions{Honeytokens: []string{"THESHIRE\\honey"},
			DCAddresses: []string{"172.18.38.5"}}), endpointingest.Detectors()...)
		var versions detection.Versions
		for i := range 24 {
			e := proto.Clone(ev).(*adjoinv1.Event)
			e.Time = timestamppb.New(ev.GetTime().AsTime().Add(time.Duration(i) * time.Second))
			if u, ok := e.GetFields()["TargetUserName"]; ok && i%2 == 1 {
				e.Fields["TargetUserName"] = fmt.Sprintf("%s%d", u, i)
			}
			for _, a := range detection.Merge(detection.Run(detectors, e)) {
				if err := countable(versions.Next(a)); err != nil {
					t.Fatalf("event %d of %q: %v", i, line, err)
				}
			}
		}
	})
}

// countable names what would make the correlator refuse an alert.
func countable(a *adjoinv1.Alert) error {
	switch {
	case a.GetId() == "" || a.GetDetector() == "":
		return fmt.Errorf("alert without id or detector: %v", a)
	case a.GetSide() != adjoinv1.Side_SIDE_IDENTITY && a.GetSide() != adjoinv1.Side_SIDE_ENDPOINT:
		return fmt.Errorf("alert %s (%s): side %v", a.GetId(), a.GetDetector(), a.GetSide())
	case len(a.GetEntities()) == 0:
		return fmt.Errorf("alert %s (%s) names no entity", a.GetId(), a.GetDetector())
	case proto.Size(a) > 1<<20:
		return fmt.Errorf("alert %s (%s) is %d bytes, over the server's payload limit", a.GetId(), a.GetDetector(), proto.Size(a))
	}
	return nil
}

// detectorSeeds takes from every recording the first line of each distinct line length bucket,
// up to 12 a file: a spread of event kinds without every line of every file.
func detectorSeeds(f *testing.F) [][]byte {
	dir := sample.Dir(f)
	var files []string
	for _, pattern := range []string{"otrf/host/*.json", "evtx-to-mitre-attack/ndjson/*.json", "otrf/zeek/*/*.log"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, m...)
	}
	var out [][]byte
	for _, name := range files {
		file, err := os.Open(name)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(file)
		sc.Buffer(make([]byte, 1<<20), 1<<22)
		seen := map[int]bool{}
		for sc.Scan() && len(seen) < 12 {
			line := sc.Bytes()
			if !bytes.HasPrefix(line, []byte("{")) || seen[len(line)/200] {
				continue
			}
			seen[len(line)/200] = true
			out = append(out, bytes.Clone(line))
		}
		file.Close()
	}
	return out
}
