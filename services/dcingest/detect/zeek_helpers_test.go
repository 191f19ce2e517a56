package detect

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/zeek"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// zeekSampleEvents reads Zeek samples under shared/data/otrf/zeek (JSON or TSV, told apart by
// a leading "#") into events. With sorted, the files are merged in time order (stable), as a
// collector would deliver several sensors' logs; otherwise file after file.
func zeekSampleEvents(t *testing.T, sorted bool, patterns ...string) []*adjoinv1.Event {
	t.Helper()
	var files []string
	for _, p := range patterns {
		m, err := filepath.Glob(filepath.Join(sample.Dir(t), "otrf", "zeek", filepath.FromSlash(p)))
		if err != nil || len(m) == 0 {
			t.Fatalf("no sample matches %s (%v)", p, err)
		}
		files = append(files, m...)
	}
	var out []*adjoinv1.Event
	for _, path := range files {
		rel, _ := filepath.Rel(sample.Dir(t), path)
		b := sample.Read(t, rel)
		if bytes.HasPrefix(b, []byte("#")) {
			r := zeek.NewTSVReader(bytes.NewReader(b))
			for {
				rec, n, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("%s:%d: %v", rel, n, err)
				}
				out = append(out, rec.Event())
			}
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			rec, err := zeek.ParseJSON(sc.Bytes())
			if err != nil {
				t.Fatalf("%s:%d: %v", rel, n, err)
			}
			out = append(out, rec.Event())
		}
	}
	if sorted {
		slices.SortStableFunc(out, func(a, b *adjoinv1.Event) int { return a.GetTime().AsTime().Compare(b.GetTime().AsTime()) })
	}
	return out
}

// zeekLine parses one hand-written Zeek JSON line into an event.
func zeekLine(t *testing.T, line string) *adjoinv1.Event {
	t.Helper()
	rec, err := zeek.ParseJSON([]byte(line))
	if err != nil {
		t.Fatalf("ParseJSON(%s): %v", line, err)
	}
	return rec.Event()
}

// zeekRun passes events through the detectors and merges the alerts, as the Runner does for
// one batch.
func zeekRun(detectors []detection.Detector, events []*adjoinv1.Event) []*adjoinv1.Alert {
	var alerts []*adjoinv1.Alert
	for _, ev := range events {
		alerts = append(alerts, detection.Run(detectors, ev)...)
	}
	return detection.Merge(alerts)
}

// zeekEntity returns the first entity with role, or nil.
func zeekEntity(a *adjoinv1.Alert, role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	for _, e := range a.GetEntities() {
		if e.GetRole() == role {
			return e
		}
	}
	return nil
}

// zeekSummary names an alert by its user, source and target, for table comparisons:
// "user=dmevals.local\pbeesly src=10.0.1.4 dst=10.0.0.4".
func zeekSummary(a *adjoinv1.Alert) string {
	var parts []string
	if u := zeekEntity(a, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); u != nil {
		parts = append(parts, "user="+u.GetDomain()+`\`+u.GetSamAccountName())
	}
	if s := zeekEntity(a, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST); s != nil {
		parts = append(parts, "src="+s.GetIp())
	}
	if d := zeekEntity(a, adjoinv1.EntityRole_ENTITY_ROLE_TARGET); d != nil {
		parts = append(parts, "dst="+d.GetIp()+strings.TrimSuffix("/"+d.GetNetbiosName(), "/"))
	}
	return strings.Join(parts, " ")
}

// zeekJSONLine writes a record the way the APT29 streaming-JSON sensors do; extra holds the
// log's own columns as JSON members (`"endpoint":"drsuapi",...`).
func zeekJSONLine(stream, sensor, ts, uid, orig, origPort, resp, respPort, extra string) string {
	return `{"@stream":"` + stream + `","@system":"` + sensor + `","@proc":"zeek","ts":` + ts + `,"uid":"` + uid +
		`","id_orig_h":"` + orig + `","id_orig_p":` + origPort + `,"id_resp_h":"` + resp + `","id_resp_p":` + respPort + `,` + extra + `}`
}

// zeekWindowsEvents are Windows events every Zeek detector must ignore.
func zeekWindowsEvents(t *testing.T) []*adjoinv1.Event {
	t.Helper()
	return sample.Events(t, "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json")
}

func mustZeekTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
