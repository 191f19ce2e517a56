package detection

import (
	"slices"
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

func TestMergeAccumulatesTechniques(t *testing.T) {
	t.Parallel()
	t0 := timestamppb.New(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC))
	first := &adjoinv1.Alert{Id: "a", Version: 1, FirstActivity: t0, LastActivity: t0, MitreTechniques: []string{"T1021.002"}}
	later := &adjoinv1.Alert{Id: "a", Version: 1, FirstActivity: t0, LastActivity: t0, MitreTechniques: []string{"T1021.002", "T1569.002"}}
	got := Merge([]*adjoinv1.Alert{first, later})
	if len(got) != 1 || len(got[0].GetMitreTechniques()) != 2 || got[0].GetMitreTechniques()[1] != "T1569.002" {
		t.Fatalf("merged techniques = %v", got[0].GetMitreTechniques())
	}
	if len(first.GetMitreTechniques()) != 1 {
		t.Errorf("Merge changed its input: %v", first.GetMitreTechniques())
	}
}

func TestMergeKeepsTechniquesInFirstSeenOrder(t *testing.T) {
	t.Parallel()
	t0 := timestamppb.New(time.Date(2020, 9, 21, 4, 9, 15, 0, time.UTC))
	pipe := &adjoinv1.Alert{Id: "a", Version: 1, MitreTechniques: []string{"T1087.002"}, FirstActivity: t0, LastActivity: t0}
	group := &adjoinv1.Alert{Id: "a", Version: 1, MitreTechniques: []string{"T1069.002"}, FirstActivity: t0, LastActivity: t0}
	got := Merge([]*adjoinv1.Alert{pipe, group, pipe})
	if len(got) != 1 || !slices.Equal(got[0].GetMitreTechniques(), []string{"T1087.002", "T1069.002"}) {
		t.Fatalf("merged = %v, want one alert with T1087.002 then T1069.002", got)
	}
}
