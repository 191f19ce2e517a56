package detect

import (
	"path/filepath"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// lmAllRecordings lists every recording: the host ones, the CC0 samples, the background
// playbook and the otrf/more atomic recordings.
func lmAllRecordings(t *testing.T) []string {
	t.Helper()
	files := append(credRecordings(t), psexecBackground)
	more, err := filepath.Glob(filepath.Join(sample.Dir(t), "otrf/more/*/*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range more {
		rel, _ := filepath.Rel(sample.Dir(t), m)
		files = append(files, rel)
	}
	return files
}

// lmOne returns the single alert of a recording that must raise one (want), or checks that it
// raised none and returns nil.
func lmOne(t *testing.T, alerts []*adjoinv1.Alert, want bool) *adjoinv1.Alert {
	t.Helper()
	if !want {
		for _, a := range alerts {
			t.Errorf("unexpected alert: %s", a.GetDescription())
		}
		return nil
	}
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1", len(alerts))
	}
	return alerts[0]
}

// lmRunEvents feeds hand-written events through one detector and merges its alerts.
func lmRunEvents(d detection.Detector, events []*adjoinv1.Event) []*adjoinv1.Alert {
	var alerts []*adjoinv1.Alert
	for _, ev := range events {
		alerts = append(alerts, d.Detect(ev)...)
	}
	return detection.Merge(alerts)
}
