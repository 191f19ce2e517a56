package detection

import (
	"testing"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestNewAlertFillsTheSharedFields(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := NewAlert(&adjoinv1.Alert{Id: "x", Title: "kept"}, adjoinv1.Side_SIDE_ENDPOINT, "adjoin-test", at)
	if a.GetId() != "x" || a.GetTitle() != "kept" {
		t.Errorf("the detector's fields changed: %v", a)
	}
	if a.GetSide() != adjoinv1.Side_SIDE_ENDPOINT || a.GetSource() != "adjoin-test" || a.GetStatus() != adjoinv1.AlertStatus_ALERT_STATUS_NEW || a.GetVersion() != 1 {
		t.Errorf("side, source, status or version not filled: %v", a)
	}
	for name, ts := range map[string]time.Time{"first": a.GetFirstActivity().AsTime(), "last": a.GetLastActivity().AsTime(), "updated": a.GetUpdatedTime().AsTime()} {
		if !ts.Equal(at) {
			t.Errorf("%s activity %v, want %v", name, ts, at)
		}
	}
	a.LastActivity.Seconds++ // the three times are separate values
	if !a.GetFirstActivity().AsTime().Equal(at) {
		t.Error("first and last activity share one timestamp")
	}
}
