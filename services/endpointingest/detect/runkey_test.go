package detect

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// runKeyEvent is a hand-written Sysmon registry event. None of the shared recordings writes a
// Run key or Winlogon Userinit/Shell (grep CurrentVersion\\Run finds nothing), so the positive
// cases are minimal invented events with the field names real Sysmon 12/13 use.
func runKeyEvent(id int32, eventType, target, details string, extra map[string]string) *adjoinv1.Event {
	f := map[string]string{"EventType": eventType, "TargetObject": target, "Details": details,
		"Image": `C:\Users\pgustavo\AppData\Local\Temp\implant.exe`, "ProcessGuid": "{11111111-2222-3333-4444-555555555555}"}
	for k, v := range extra {
		f[k] = v
	}
	return &adjoinv1.Event{Channel: "Microsoft-Windows-Sysmon/Operational", EventId: id, Host: "WORKSTATION5.theshire.local",
		Time: timestamppb.New(time.Date(2020, 9, 21, 23, 0, 0, 0, time.UTC)), Fields: f, RecordId: 42}
}

func TestRunKeyOnHandWrittenEvents(t *testing.T) {
	t.Parallel()
	const userSID = "S-1-5-21-4228717743-1032521047-1810997296-1104"
	tests := []struct {
		name       string
		ev         *adjoinv1.Event
		want       bool
		wantTarget string // SID of the hive's user
		wantActor  string // domain\sam from Sysmon User
	}{
		{name: "HKLM Run SetValue", ev: runKeyEvent(13, "SetValue", `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\Updater`, `C:\Users\Public\u.exe`, nil), want: true},
		{name: "HKU Run SetValue with Sysmon User", ev: runKeyEvent(13, "SetValue", `HKU\`+userSID+`\Software\Microsoft\Windows\CurrentVersion\Run\OneDriveX`, `powershell -w hidden -enc AAAA`, map[string]string{"User": `THESHIRE\pgustavo`}),
			want: true, wantTarget: userSID, wantActor: `theshire\pgustavo`},
		{name: "WOW64 RunOnce", ev: runKeyEvent(13, "SetValue", `HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\RunOnce\x`, `cmd /c x`, nil), want: true},
		{name: "RunServices", ev: runKeyEvent(13, "SetValue", `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\RunServices\x`, `x.exe`, nil), want: true},
		{name: "Policies Explorer Run", ev: runKeyEvent(13, "SetValue", `HKU\`+userSID+`\Software\Microsoft\Windows\CurrentVersion\Policies\Explorer\Run\x`, `x.exe`, nil), want: true, wantTarget: userSID},
		{name: "Winlogon Userinit appended", ev: runKeyEvent(13, "SetValue", `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon\Userinit`, `C:\Windows\system32\userinit.exe,C:\Users\Public\u.exe`, nil), want: true},
		{name: "Winlogon Shell replaced", ev: runKeyEvent(13, "SetValue", `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon\Shell`, `explorer.exe, u.exe`, nil), want: true},
		{name: "NXLog recording: INFO in EventType, SetValue in EventTypeOrignal", ev: runKeyEvent(13, "INFO", `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\x`, `x.exe`, map[string]string{"EventTypeOrignal": "SetValue"}), want: true},
		{name: "CreateKey of RunOnce", ev: runKeyEvent(12, "CreateKey", `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\RunOnce`, "", nil), want: true},
		{name: "Winlogon Shell reset to default", ev: runKeyEvent(13, "SetValue", `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon\Shell`, `explorer.exe`, nil)},
		{name: "DeleteValue is cleanup", ev: runKeyEvent(12, "DeleteValue", `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\x`, "", nil)},
		{name: "RunMRU is not an autostart", ev: runKeyEvent(13, "SetValue", `HKU\`+userSID+`\Software\Microsoft\Windows\CurrentVersion\Explorer\RunMRU\a`, `cmd\1`, nil)},
		{name: "Runtime-like key name is not Run", ev: runKeyEvent(13, "SetValue", `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\RunTimeBroker\x`, `1`, nil)},
		{name: "other Winlogon value (as in S12)", ev: runKeyEvent(13, "SetValue", `HKU\`+userSID+`\Software\Microsoft\Windows NT\CurrentVersion\Winlogon\ExcludeProfileDirs`, `AppData\Local`, nil)},
		{name: "service ImagePath is not a Run key", ev: runKeyEvent(13, "SetValue", `HKLM\System\CurrentControlSet\Services\x\ImagePath`, `x.exe`, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := NewRunKey().Detect(tt.ev)
			if !tt.want {
				if len(alerts) != 0 {
					t.Fatalf("unexpected alert: %s", alerts[0].GetDescription())
				}
				return
			}
			if len(alerts) != 1 {
				t.Fatalf("%d alerts, want 1", len(alerts))
			}
			a := alerts[0]
			if got := psexecEntity(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST); got != "workstation5.theshire.local" {
				t.Errorf("host = %q", got)
			}
			if got := psexecEntity(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); got != tt.wantActor {
				t.Errorf("actor = %q, want %q", got, tt.wantActor)
			}
			var target string
			for _, e := range a.GetEntities() {
				if e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_TARGET {
					target = e.GetSid()
				}
			}
			if target != tt.wantTarget {
				t.Errorf("target SID = %q, want %q", target, tt.wantTarget)
			}
			ev := a.GetEvidence()[0]
			if ev.GetFields()["Details"] != tt.ev.GetFields()["Details"] || !strings.Contains(ev.GetSummary(), tt.ev.GetFields()["TargetObject"]) {
				t.Errorf("evidence does not carry the value: %v", ev)
			}
			if a.GetMitreTechniques()[0] != "T1547.001" || a.GetSeverity() != adjoinv1.Severity_SEVERITY_MEDIUM ||
				a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PERSISTENCE {
				t.Errorf("alert fields: %v", a)
			}
			if again := NewRunKey().Detect(tt.ev); again[0].GetId() != a.GetId() {
				t.Errorf("replay changed the alert id")
			}
		})
	}
}

func TestRunKeySilentOnRecordings(t *testing.T) {
	t.Parallel()
	// Thousands of real Sysmon 12/13 writes (services, profiles, Winlogon BuildNumber and
	// ExcludeProfileDirs in S12), none to an autostart value.
	for _, file := range winrmNegatives {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			for _, a := range psexecRun(t, file, NewRunKey()) {
				t.Errorf("unexpected alert: %s", a.GetDescription())
			}
		})
	}
}

func TestRunKeyBackgroundPlaybook(t *testing.T) {
	if testing.Short() {
		t.Skip("13 MB recording")
	}
	t.Parallel()
	// Ground truth unknown on purpose: log, do not assert.
	for _, a := range psexecRun(t, psexecBackground, NewRunKey()) {
		t.Logf("background alert: %s", a.GetDescription())
	}
}
