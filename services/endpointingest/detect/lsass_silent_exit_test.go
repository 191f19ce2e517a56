package detect

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// No recording arms silent process exit: hand-written events of one run (the three registry
// values, the GlobalFlag and the monitor's 3001) make one alert; unrelated IFEO and WER keys
// make none.
func TestLSASSSilentProcessExit(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	reg := func(i int, key, details string) *adjoinv1.Event {
		return &adjoinv1.Event{Channel: "Microsoft-Windows-Sysmon/Operational", EventId: 13, Host: "WS1.corp.example",
			Time:   timestamppb.New(at.Add(time.Duration(i) * time.Second)),
			Fields: map[string]string{"Image": `C:\Users\bob\x.exe`, "TargetObject": key, "Details": details, "User": `CORP\bob`}}
	}
	const spe = `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\SilentProcessExit\lsass.exe`
	const ifeo = `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Image File Execution Options\`
	run := []*adjoinv1.Event{
		reg(0, spe+`\ReportingMode`, "DWORD (0x00000002)"),
		reg(0, spe+`\LocalDumpFolder`, `C:\temp`),
		reg(1, spe+`\DumpType`, "DWORD (0x00000002)"),
		reg(1, ifeo+`lsass.exe\GlobalFlag`, "DWORD (0x00000200)"),
		{Channel: "Application", EventId: 3001, Host: "WS1.corp.example", Time: timestamppb.New(at.Add(2 * time.Second)),
			Fields: map[string]string{"Message": "The process 'C:\\Windows\\system32\\lsass.exe' was terminated by the process 'C:\\Users\\bob\\x.exe' with termination code 0. The creation of a dump file was requested."}},
	}
	d := NewLSASSSilentProcessExit()
	var alerts []*adjoinv1.Alert
	for _, ev := range run {
		alerts = append(alerts, d.Detect(ev)...)
	}
	merged := detection.Merge(alerts)
	if got := credSummaries(merged); len(got) != 1 || got[0] != `WS1.corp.example actor=corp\bob target=- evidence=5` {
		t.Fatalf("alerts = %q, want one with the five events", got)
	}
	credCheckAlert(t, merged[0])
	for _, ev := range []*adjoinv1.Event{
		reg(0, ifeo+`notepad.exe\Debugger`, `C:\x.exe`),
		reg(0, ifeo+`lsass.exe\AuditLevel`, "DWORD (0x00000008)"), // LSA protection auditing
		reg(0, `HKLM\SOFTWARE\Microsoft\Windows\Windows Error Reporting\LocalDumps\DumpType`, "DWORD (0x00000002)"),
	} {
		if got := NewLSASSSilentProcessExit().Detect(ev); len(got) != 0 {
			t.Errorf("%s raised %v", ev.GetFields()["TargetObject"], got)
		}
	}
}

func TestLSASSSilentProcessExitNegatives(t *testing.T) {
	t.Parallel()
	newDetector := func(*Processes) detection.Detector { return NewLSASSSilentProcessExit() }
	credCheck(t, newDetector, nil, nil)
	credSilent(t, newDetector)
}
