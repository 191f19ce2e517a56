package detect

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// No recording holds a thread created in lsass.exe or a dump written under a name and folder
// no rule knows: hand-written Sysmon events.
func TestLSASSTracesWithoutRecordings(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	sysmon := func(id int32, sec int, f map[string]string) *adjoinv1.Event {
		return &adjoinv1.Event{Channel: "Microsoft-Windows-Sysmon/Operational", EventId: id, Host: "WS1.corp.example",
			Time: timestamppb.New(at.Add(time.Duration(sec) * time.Second)), Fields: f}
	}
	const tool = `C:\Tools\svc-helper.exe`
	thread := sysmon(8, 0, map[string]string{"SourceImage": tool, "SourceProcessId": "500", "TargetImage": `C:\Windows\system32\lsass.exe`, "StartFunction": "LoadLibraryA"})
	open := sysmon(10, 0, map[string]string{"SourceImage": tool, "SourceProcessId": "500", "TargetImage": `C:\Windows\system32\lsass.exe`, "GrantedAccess": "0x1410"})
	listing := sysmon(10, 0, map[string]string{"SourceImage": `C:\Tools\procexp.exe`, "SourceProcessId": "501", "TargetImage": `C:\Windows\system32\lsass.exe`, "GrantedAccess": "0x1400"})
	dump := sysmon(11, 1, map[string]string{"Image": tool, "ProcessId": "500", "TargetFilename": `C:\Tools\cache\state.dmp`})
	csrss := sysmon(8, 0, map[string]string{"SourceImage": `C:\Windows\System32\csrss.exe`, "SourceProcessId": "4", "TargetImage": `C:\Windows\system32\lsass.exe`})
	tests := []struct {
		name   string
		events []*adjoinv1.Event
		want   int // alerts after merging
	}{
		{"thread created in lsass", []*adjoinv1.Event{thread}, 1},
		{"csrss's own thread", []*adjoinv1.Event{csrss}, 0},
		{"query-only handle of a process listing (0x1400)", []*adjoinv1.Event{listing}, 0},
		{"dump by a process that read lsass: one alert", []*adjoinv1.Event{open, dump}, 1},
		{"the same dump file alone names nothing", []*adjoinv1.Event{dump}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			episodes := NewCredEpisodes()
			access, files := NewLSASSAccess(nil), NewLSASSDumpComsvcs(nil)
			access.Episodes, files.Episodes = episodes, episodes
			var alerts []*adjoinv1.Alert
			for _, ev := range tt.events {
				alerts = append(alerts, detection.Run([]detection.Detector{access, files}, ev)...)
			}
			merged := detection.Merge(alerts)
			if len(merged) != tt.want {
				t.Fatalf("%d alerts, want %d: %v", len(merged), tt.want, merged)
			}
			for _, a := range merged {
				credCheckAlert(t, a)
				if len(a.GetEvidence()) != len(tt.events) {
					t.Errorf("evidence = %d, want every event", len(a.GetEvidence()))
				}
			}
		})
	}
}
