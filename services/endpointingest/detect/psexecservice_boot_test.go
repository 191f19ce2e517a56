package detect

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// psexecSysmon is a hand-written Sysmon event at second s: no recording holds a boot, nor
// PsExec run with a renamed service (-r).
func psexecSysmon(id int32, s int, f map[string]string) *adjoinv1.Event {
	return &adjoinv1.Event{Channel: "Microsoft-Windows-Sysmon/Operational", EventId: id, Host: "WS9.corp.example",
		Time: timestamppb.New(time.Date(2024, 5, 1, 8, 0, s, 0, time.UTC)), Fields: f}
}

func TestPsExecServiceBootAndRenamedPipes(t *testing.T) {
	t.Parallel()
	bootCmd := psexecSysmon(1, 0, map[string]string{"Image": `C:\Windows\System32\cmd.exe`, "CommandLine": `cmd.exe /c C:\tools\agent.bat`,
		"ParentImage": `C:\Windows\System32\services.exe`, "ProcessGuid": "{a}", "ParentProcessGuid": "{s}", "User": `NT AUTHORITY\SYSTEM`, "LogonId": "0x3e7"})
	bootChild := psexecSysmon(1, 1, map[string]string{"Image": `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
		"ParentImage": `C:\Windows\System32\cmd.exe`, "ProcessGuid": "{b}", "ParentProcessGuid": "{a}", "LogonId": "0x3e7"})
	register := psexecSysmon(13, 30, map[string]string{"Image": `C:\Windows\system32\services.exe`,
		"TargetObject": `HKLM\System\CurrentControlSet\Services\upd\ImagePath`, "Details": `%COMSPEC% /C whoami`})
	renamed := psexecSysmon(17, 5, map[string]string{"Image": `C:\Windows\svc-upd.exe`, "PipeName": `\svc-upd-WS1-4242-stdin`})
	ordinary := psexecSysmon(17, 6, map[string]string{"Image": `C:\Windows\x.exe`, "PipeName": `\mojo.1234.5678`})
	tests := []struct {
		name   string
		events []*adjoinv1.Event
		want   int // alerts
		minEv  int // evidence of the alert
	}{
		{"services.exe starting a script service at boot", []*adjoinv1.Event{bootCmd, bootChild}, 0, 0},
		{"an ordinary pipe", []*adjoinv1.Event{ordinary}, 0, 0},
		{"the same start joined by a service registration after it", []*adjoinv1.Event{bootCmd, bootChild, register}, 1, 3},
		{"registration first, then the start", []*adjoinv1.Event{register, bootCmd}, 1, 2},
		{"PsExec -r: stdin pipe under another service name", []*adjoinv1.Event{renamed}, 1, 1},
	}
	for _, tt := range tests {
		merged := lmRunEvents(NewPsExecService(), tt.events)
		if len(merged) != tt.want {
			t.Errorf("%s: %d alerts, want %d", tt.name, len(merged), tt.want)
			continue
		}
		if tt.want == 1 && len(merged[0].GetEvidence()) < tt.minEv {
			t.Errorf("%s: evidence %d, want >= %d: %s", tt.name, len(merged[0].GetEvidence()), tt.minEv, psexecSummaries(merged[0]))
		}
	}
}

func TestPsExecServiceHeldBound(t *testing.T) {
	t.Parallel()
	d := NewPsExecService()
	d.MaxHeld = 2
	for i := range 5 {
		d.Detect(psexecSysmon(1, i, map[string]string{"Image": `C:\Windows\System32\cmd.exe`, "ParentImage": `C:\Windows\System32\services.exe`,
			"ProcessGuid": "{" + string(rune('a'+i)) + "}"}))
	}
	h, _ := d.hosts.Get("ws9")
	if h == nil {
		t.Fatal("host ws9 not remembered")
	}
	if got := len(h.held); got != 2 {
		t.Fatalf("held = %d, want the bound 2", got)
	}
}
