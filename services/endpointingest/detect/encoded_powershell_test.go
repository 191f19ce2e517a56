package detect

import (
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestEncodedPowerShellOnRecordings(t *testing.T) {
	t.Parallel()
	credCheck(t, func(*Processes) detection.Detector { return NewEncodedPowerShell() }, map[string][]string{
		// Empire Invoke-PsExec: 7045 and 4697 (service Updater, installed by pgustavo over the
		// network), Sysmon 1 + 4688 of cmd.exe and of powershell.exe (SYSTEM) all carry one
		// payload: one alert.
		"otrf/host/empire_psexec_dcerpc_tcp_svcctl_2020-09-20121608.sec-sys-sysmon.json": {`WORKSTATION6.theshire.local actor=theshire\pgustavo target=- evidence=6`},
	}, func(t *testing.T, a *adjoinv1.Alert) {
		for _, e := range a.GetEvidence() {
			if d := e.GetFields()["DecodedCommand"]; !strings.HasPrefix(d, "If($PSVErSiOnTablE") || len([]rune(d)) != 200 {
				t.Errorf("decoded command %q", d)
			}
		}
		if a.GetSeverity() != adjoinv1.Severity_SEVERITY_MEDIUM || a.GetMitreTechniques()[0] != "T1059.001" {
			t.Errorf("classification: %v", a)
		}
	})
}

// No recording holds these option spellings: minimal hand-written events.
func TestEncodedPowerShellVariants(t *testing.T) {
	t.Parallel()
	enc := func(s string) string {
		u := utf16.Encode([]rune(s))
		b := make([]byte, 2*len(u))
		for i, c := range u {
			b[2*i], b[2*i+1] = byte(c), byte(c>>8)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	payload := enc("Write-Output 'hello from an encoded command'")
	ps := `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`
	tests := []struct {
		name, image, cl string
		want            bool
	}{
		{"-e", ps, "powershell -e " + payload, true},
		{"-EncodedCommand quoted", ps, `powershell.exe -NoProfile -EncodedCommand "` + payload + `"`, true},
		{"-ec", `C:\Program Files\PowerShell\7\pwsh.exe`, "pwsh -ec " + payload, true},
		{"/enco with Unicode dash elsewhere", ps, "powershell \u2013nop /enco " + payload, true},
		{"launcher cmd /c", `C:\Windows\System32\cmd.exe`, "cmd /c powershell -enc " + payload, true},
		{"-ExecutionPolicy is not -EncodedCommand", ps, "powershell -ex Bypass -File C:\\scripts\\AbcdefghIjklmnop.ps1", false},
		{"ordinary powershell", ps, `"C:\windows\System32\WindowsPowerShell\v1.0\powershell.exe"`, false},
		{"base64 for another program", `C:\tools\x.exe`, "x.exe -e " + payload, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := NewEncodedPowerShell().Detect(credProcEvent(tt.image, tt.cl))
			if (len(got) == 1) != tt.want || len(got) > 1 {
				t.Fatalf("alerts = %v, want fire=%v", got, tt.want)
			}
			if tt.want && got[0].GetEvidence()[0].GetFields()["DecodedCommand"] != "Write-Output 'hello from an encoded command'" {
				t.Errorf("decoded = %q", got[0].GetEvidence()[0].GetFields()["DecodedCommand"])
			}
		})
	}
}
