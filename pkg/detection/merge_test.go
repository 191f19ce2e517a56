package detection

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestMergeKeepsTheNewestVersion(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2020, 8, 5, 6, 10, 2, 0, time.UTC)
	v1 := &adjoinv1.Alert{Id: "a", Version: 1, Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW,
		FirstActivity: timestamppb.New(t0), LastActivity: timestamppb.New(t0), Evidence: []*adjoinv1.Evidence{{Summary: "first"}}}
	v2 := &adjoinv1.Alert{Id: "a", Version: 2, Status: adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED,
		FirstActivity: timestamppb.New(t0.Add(time.Minute)), LastActivity: timestamppb.New(t0.Add(time.Minute)), Evidence: []*adjoinv1.Evidence{{Summary: "second"}}}
	for _, order := range [][]*adjoinv1.Alert{{v1, v2}, {v2, v1}} {
		got := Merge(order)
		if len(got) != 1 || got[0].GetVersion() != 2 || got[0].GetStatus() != adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED {
			t.Fatalf("merged = %v, want version 2 resolved", got)
		}
		if !got[0].GetFirstActivity().AsTime().Equal(t0) || len(got[0].GetEvidence()) != 2 {
			t.Errorf("merged span/evidence = %v / %d", got[0].GetFirstActivity().AsTime(), len(got[0].GetEvidence()))
		}
	}
}
