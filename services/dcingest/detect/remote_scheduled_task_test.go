package detect

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func schedTaskSet() []detection.Detector {
	s := NewSessions(1000)
	return []detection.Detector{s, NewRemoteScheduledTask(s)}
}

func TestRemoteScheduledTaskOnRecordings(t *testing.T) {
	t.Parallel()
	positives := map[string]string{ // file -> the event id that must be in the evidence
		"otrf/more/lateral_movement/schtask_create_2020-12-1907003032.json":       "4698",
		"otrf/more/lateral_movement/schtask_modification_2020-12-1907505969.json": "4702",
	}
	files := append(adjSampleFiles(t), adjBackground,
		"otrf/more/lateral_movement/covenant_sharpwmi_create_dcerpc_wmi_2020-08-06035621.json",
		"otrf/more/lateral_movement/covenant_sharpsc_query_dcerpc_smb_svcctl_2020-08-06012009.json",
		"otrf/more/credential_access/cmd_dumping_ntds_dit_file_ntdsutil.no-vbox-sysmon10.json")
	for f := range positives {
		files = append(files, f)
	}
	lmRecordings(t, files, schedTaskSet, "remote-scheduled-task", func(f string) bool { return positives[f] != "" },
		func(t *testing.T, file string, a *adjoinv1.Alert, h, u, s *adjoinv1.EntityRef) {
			if h.GetDnsHostName() != "WORKSTATION6.theshire.local" || u.GetSamAccountName() != "pgustavo" || s.GetIp() != "172.18.39.5" {
				t.Errorf("entities %v", a.GetEntities())
			}
			ids := adjEventIDs(a)
			if !strings.Contains(ids, positives[file]) || !strings.Contains(ids, "140") || a.GetMitreTechniques()[0] != "T1053.005" {
				t.Errorf("evidence ids %s, techniques %v", ids, a.GetMitreTechniques())
			}
		})
}

// schedTaskEvent is hand-written: no recording holds the AT service's pipe or a task created
// by a local user's schtasks (ClientProcessId set).
func schedTaskEvent(id int32, f map[string]string) *adjoinv1.Event {
	return &adjoinv1.Event{Channel: "Security", EventId: id, Host: "SRV2.corp.example",
		Time: timestamppb.New(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)), Fields: f}
}

func TestRemoteScheduledTaskHandWritten(t *testing.T) {
	t.Parallel()
	user := map[string]string{"SubjectUserName": "eve", "SubjectDomainName": "CORP", "SubjectUserSid": "S-1-5-21-1-2-3-1105", "SubjectLogonId": "0x99",
		"TaskName": `\Updater`, "TaskContent": "<Task><Actions><Exec><Command>cmd.exe</Command><Arguments>/c whoami</Arguments></Exec></Actions></Task>"}
	local := map[string]string{"ClientProcessId": "4112", "ParentProcessId": "900"}
	remote := map[string]string{"ClientProcessId": "0", "ParentProcessId": "0"}
	merge := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	tests := []struct {
		name   string
		events []*adjoinv1.Event
		want   int
	}{
		{"a local user's schtasks", []*adjoinv1.Event{schedTaskEvent(4698, merge(user, local))}, 0},
		{"an ordinary program, remotely: medium", []*adjoinv1.Event{schedTaskEvent(4698, merge(user, remote, map[string]string{
			"TaskContent": `<Exec><Command>"C:\Program Files\Backup\agent.exe"</Command></Exec>`}))}, 1},
		{"RPC client without a local process", []*adjoinv1.Event{schedTaskEvent(4698, merge(user, remote))}, 1},
		{"SYSTEM updating a task", []*adjoinv1.Event{schedTaskEvent(4702, merge(user, remote, map[string]string{"SubjectUserSid": "S-1-5-18"}))}, 0},
		{"atsvc pipe from another host", []*adjoinv1.Event{schedTaskEvent(5145, map[string]string{"SubjectUserName": "eve", "IpAddress": "10.0.0.9",
			"ShareName": `\\*\IPC$`, "RelativeTargetName": "atsvc"})}, 1},
	}
	for _, tt := range tests {
		got := adjRunEvents(schedTaskSet(), tt.events)
		if len(got) != tt.want {
			t.Errorf("%s: %d alerts, want %d", tt.name, len(got), tt.want)
		}
		if tt.want == 1 && tt.events[0].GetEventId() == 4698 {
			shell := strings.Contains(got[0].GetEvidence()[0].GetSummary(), "running cmd.exe /c whoami")
			if want := map[bool]adjoinv1.Severity{true: adjoinv1.Severity_SEVERITY_HIGH, false: adjoinv1.Severity_SEVERITY_MEDIUM}[shell]; got[0].GetSeverity() != want {
				t.Errorf("%s: severity %s, want %s (%q)", tt.name, got[0].GetSeverity(), want, got[0].GetEvidence()[0].GetSummary())
			}
		}
	}
}

func TestRemoteScheduledTaskHeldBound(t *testing.T) {
	t.Parallel()
	d := NewRemoteScheduledTask(nil)
	d.MaxTasks = 3
	for i := range 10 {
		d.Detect(&adjoinv1.Event{Channel: "Microsoft-Windows-TaskScheduler/Operational", EventId: 106, Host: "h",
			Time: timestamppb.New(time.Date(2024, 5, 1, 10, 0, i, 0, time.UTC)), Fields: map[string]string{"TaskName": `\t` + itoa(int32(i))}})
	}
	if d.held.Len() != 3 {
		t.Fatalf("held tasks = %d, want the bound 3", d.held.Len())
	}
}
