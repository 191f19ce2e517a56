package detect

import (
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

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
