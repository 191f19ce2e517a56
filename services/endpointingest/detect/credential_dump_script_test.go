package detect

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// The recordings with script block logging (the ntds labs' 4104s: prompt, error formatting)
// hold no credential dumping; the Empire recordings had theirs filtered out. So the positives
// are hand-written 4104s, in the two shapes the parsers give: ScriptBlockText (EVTX, ECS) and
// the rendered message alone (NXLog exports of the PowerShell channel).
func TestCredentialDumpScriptVariants(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	block := func(fields map[string]string) *adjoinv1.Event {
		return &adjoinv1.Event{Channel: "Microsoft-Windows-PowerShell/Operational", EventId: 4104, Host: "WS1.corp.example",
			Time: timestamppb.New(at), Fields: fields}
	}
	tests := []struct {
		name string
		ev   *adjoinv1.Event
		want adjoinv1.Severity // UNSPECIFIED: no alert
	}{
		{"Invoke-Mimikatz", block(map[string]string{"ScriptBlockText": `Invoke-Mimikatz -Command '"privilege::debug" "sekurlsa::logonpasswords"'`, "ScriptBlockId": "{a}"}), adjoinv1.Severity_SEVERITY_HIGH},
		{"message only", block(map[string]string{"Message": "Creating Scriptblock text (1 of 3):\nfunction Invoke-Mimikatz {\n\nScriptBlock ID: 5b1e-77\nPath: "}), adjoinv1.Severity_SEVERITY_HIGH},
		{"MiniDumpWriteDump on lsass", block(map[string]string{"ScriptBlockText": `$p = Get-Process lsass; [Win32]::MiniDumpWriteDump($p.Handle, $p.Id, $fs.Handle, 2, 0, 0, 0)`}), adjoinv1.Severity_SEVERITY_HIGH},
		{"Out-Minidump definition", block(map[string]string{"ScriptBlockText": `function Out-Minidump { $MiniDumpWriteDump = $WERNativeMethods.GetMethod('MiniDumpWriteDump', ...) }`}), adjoinv1.Severity_SEVERITY_MEDIUM},
		{"ordinary script", block(map[string]string{"ScriptBlockText": `Get-Process | Where-Object { $_.Name -eq 'lsass' } | Select-Object Id`}), adjoinv1.Severity_SEVERITY_UNSPECIFIED},
		{"other channel", &adjoinv1.Event{Channel: "Security", EventId: 4104, Host: "WS1", Time: timestamppb.New(at),
			Fields: map[string]string{"ScriptBlockText": "Invoke-Mimikatz"}}, adjoinv1.Severity_SEVERITY_UNSPECIFIED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := NewCredentialDumpScript().Detect(tt.ev)
			if tt.want == adjoinv1.Severity_SEVERITY_UNSPECIFIED {
				if len(got) != 0 {
					t.Fatalf("alerts = %v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d alerts, want 1", len(got))
			}
			credCheckAlert(t, got[0])
			if got[0].GetSeverity() != tt.want || got[0].GetMitreTechniques()[0] != "T1003.001" {
				t.Errorf("classification: %v", got[0])
			}
		})
	}
}

// Three parts of one script block and PowerShell's own read of lsass on the host are one
// alert when the detectors share their episodes.
func TestCredentialDumpScriptJoinsLSASSAccess(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	episodes := NewCredEpisodes()
	access, script := NewLSASSAccess(nil), NewCredentialDumpScript()
	access.Episodes, script.Episodes = episodes, episodes
	var alerts []*adjoinv1.Alert
	alerts = append(alerts, access.Detect(&adjoinv1.Event{Channel: "Microsoft-Windows-Sysmon/Operational", EventId: 10, Host: "WS1.corp.example",
		Time: timestamppb.New(at), Fields: map[string]string{"SourceImage": `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
			"SourceProcessId": "5056", "TargetImage": `C:\Windows\system32\lsass.exe`, "GrantedAccess": "0x1010"}})...)
	for i, part := range []string{"function Invoke-Mimikatz {", "$PEBytes64 = ...", "sekurlsa::logonpasswords"} {
		alerts = append(alerts, script.Detect(&adjoinv1.Event{Channel: "Microsoft-Windows-PowerShell/Operational", EventId: 4104,
			Host: "WS1.corp.example", Time: timestamppb.New(at.Add(time.Duration(i+1) * time.Second)),
			Fields: map[string]string{"ScriptBlockText": part, "ScriptBlockId": "{b}"}})...)
	}
	if merged := detection.Merge(alerts); len(merged) != 1 || len(merged[0].GetEvidence()) != 3 {
		t.Errorf("alerts = %v, want one with the Sysmon 10 and two script blocks", merged)
	}
}

func TestCredentialDumpScriptNegatives(t *testing.T) {
	t.Parallel()
	newDetector := func(*Processes) detection.Detector { return NewCredentialDumpScript() }
	credCheck(t, newDetector, nil, nil)
	credSilent(t, newDetector)
}
