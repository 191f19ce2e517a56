package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// No recording holds a remote hive dump (the OTRF snapshot has none, see its README):
// hand-written 5145 events in the shape the recordings' 5145s have.
func TestRemoteHiveDump(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	share := func(sec int, ip, shareName, name string) *adjoinv1.Event {
		return credAccessEvent(5145, "SRV1.corp.example", at.Add(time.Duration(sec)*time.Second), int64(sec), map[string]string{
			"SubjectUserName": "mallory", "SubjectDomainName": "CORP", "SubjectUserSid": "S-1-5-21-1-2-3-1110", "SubjectLogonId": "0x77",
			"ShareName": `\\*\` + shareName, "RelativeTargetName": name, "IpAddress": ip, "AccessMask": "0x120089"})
	}
	tests := []struct {
		name   string
		events []*adjoinv1.Event
		want   []string // technique of each alert
	}{
		{"secretsdump: winreg then the saved hives from ADMIN$ Temp", []*adjoinv1.Event{
			share(0, "10.0.0.9", "IPC$", "winreg"), share(2, "10.0.0.9", "ADMIN$", `Temp\aXbYcZdE.tmp`), share(3, "10.0.0.9", "ADMIN$", `Temp\QwErTyUi.tmp`),
		}, []string{"T1003.002"}},
		{"a shadow copy's SAM over C$", []*adjoinv1.Event{share(0, "10.0.0.9", "C$", `@GMT-2024.05.01-11.00.00\Windows\System32\config\SAM`)}, []string{"T1003.002"}},
		{"ntds.dit over C$", []*adjoinv1.Event{share(0, "10.0.0.9", "C$", `Windows\Temp\x\Active Directory\ntds.dit`)}, []string{"T1003.003"}},
		{"winreg alone is administration", []*adjoinv1.Event{share(0, "10.0.0.9", "IPC$", "winreg")}, nil},
		{"Temp file without winreg", []*adjoinv1.Event{share(0, "10.0.0.9", "ADMIN$", `Temp\setup.tmp`)}, nil},
		{"Temp file long after winreg", []*adjoinv1.Event{share(0, "10.0.0.9", "IPC$", "winreg"), share(600, "10.0.0.9", "ADMIN$", `Temp\a.tmp`)}, nil},
		{"Temp file from another source", []*adjoinv1.Event{share(0, "10.0.0.9", "IPC$", "winreg"), share(2, "10.0.0.8", "ADMIN$", `Temp\a.tmp`)}, nil},
		{"two dumps an hour apart", []*adjoinv1.Event{
			share(0, "10.0.0.9", "C$", `Windows\Temp\SAM`), share(3600, "10.0.0.9", "C$", `Windows\Temp\SECURITY`),
		}, []string{"T1003.002", "T1003.002"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := adjRunEvents([]detection.Detector{NewRemoteHiveDump()}, tt.events)
			if len(alerts) != len(tt.want) {
				t.Fatalf("%d alerts, want %d: %v", len(alerts), len(tt.want), alerts)
			}
			for i, a := range alerts {
				credAccessCheckAlert(t, a, "remote-hive-dump", tt.want[i])
				if s := credAccessSummarize(a); s.Actor != `corp\mallory` || s.Source != "10.0.0.9" || s.Computer != "SRV1.corp.example" {
					t.Errorf("entities: %+v", s)
				}
			}
		})
	}
	d := NewRemoteHiveDump()
	d.MaxSources = 2
	for i := range 5 {
		d.Detect(share(i, fmt.Sprintf("10.0.1.%d", i), "IPC$", "winreg"))
	}
	if n := d.sources.Len(); n != 2 {
		t.Errorf("sources = %d, want the bound 2", n)
	}
	if got := d.Detect(share(6, "10.0.1.0", "ADMIN$", `Temp\a.tmp`)); len(got) != 0 {
		t.Errorf("a forgotten winreg open still counted: %v", got)
	}
}

func TestRemoteHiveDumpSilentOnRecordings(t *testing.T) {
	t.Parallel()
	credAccessSilent(t, func() []detection.Detector { return []detection.Detector{NewRemoteHiveDump()} })
}
