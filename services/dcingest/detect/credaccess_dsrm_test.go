package detect

import (
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// No recording holds a 4794: hand-written events with the fields Windows writes.
func TestDSRMPasswordChange(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	ev := func(status, logon string) *adjoinv1.Event {
		return credAccessEvent(4794, "DC1.corp.example", at, 7, map[string]string{"SubjectUserName": "mallory", "SubjectDomainName": "CORP",
			"SubjectUserSid": "S-1-5-21-1-2-3-1110", "SubjectLogonId": logon, "Workstation": "DC1", "Status": status})
	}
	tests := []struct {
		name   string
		events []*adjoinv1.Event
		want   []adjoinv1.Severity
	}{
		{"set", []*adjoinv1.Event{ev("0x0", "0x3e1a")}, []adjoinv1.Severity{adjoinv1.Severity_SEVERITY_HIGH}},
		{"refused", []*adjoinv1.Event{ev("0xc000006c", "0x3e1a")}, []adjoinv1.Severity{adjoinv1.Severity_SEVERITY_MEDIUM}},
		{"retried in one session is one alert", []*adjoinv1.Event{ev("0xc000006c", "0x3e1a"), ev("0x0", "0x3e1a")}, []adjoinv1.Severity{adjoinv1.Severity_SEVERITY_HIGH}},
		{"two sessions", []*adjoinv1.Event{ev("0x0", "0x3e1a"), ev("0x0", "0x4f00")}, []adjoinv1.Severity{adjoinv1.Severity_SEVERITY_HIGH, adjoinv1.Severity_SEVERITY_HIGH}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := adjRunEvents([]detection.Detector{NewDSRMPasswordChange()}, tt.events)
			if len(alerts) != len(tt.want) {
				t.Fatalf("%d alerts, want %d", len(alerts), len(tt.want))
			}
			for i, a := range alerts {
				adjCheckCommon(t, a, "dsrm-password-change")
				if a.GetSeverity() != tt.want[i] || a.GetMitreTechniques()[0] != "T1098" ||
					a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PERSISTENCE {
					t.Errorf("classification: %v", a)
				}
				if s := credAccessSummarize(a); s.Actor != `corp\mallory` || s.Computer != "DC1.corp.example" {
					t.Errorf("entities: %+v", s)
				}
			}
		})
	}
}

func TestDSRMPasswordChangeSilentOnRecordings(t *testing.T) {
	t.Parallel()
	credAccessSilent(t, func() []detection.Detector { return []detection.Detector{NewDSRMPasswordChange()} })
}

// credAccessSilent runs fresh detectors over every recording (the OTRF host captures, the CC0
// samples, the atomic recordings and the background playbook, none of which holds their
// technique) but the excepted ones, and fails on any alert.
func credAccessSilent(t *testing.T, detectors func() []detection.Detector, except ...string) {
	t.Helper()
	files := append(adjSampleFiles(t), credAccessOthers(t, "otrf/more/*/*.json", except...)...)
	if !testing.Short() {
		files = append(files, credAccessBackgroundFile)
	}
	for _, file := range files {
		for _, a := range adjRun(t, detectors(), file) {
			t.Errorf("%s: unexpected alert: %s", file, a.GetDescription())
		}
	}
}
