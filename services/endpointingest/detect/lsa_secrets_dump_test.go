package detect

import (
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestLSASecretsDumpOnRecordings(t *testing.T) {
	t.Parallel()
	credCheck(t, func(*Processes) detection.Detector { return NewLSASecretsDump() }, map[string][]string{
		// PsExec -s reg save HKLM\security\policy\secrets (wardog) and the reg.exe it starts
		// under PSEXESVC.exe as SYSTEM, each in Sysmon 1 and 4688: one alert naming wardog.
		"otrf/host/cmd_psexec_lsa_secrets_dump_2020-10-1903305471.json": {`workstation5 actor=workstation5\wardog target=- evidence=4`},
	}, func(t *testing.T, a *adjoinv1.Alert) {
		if a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH || a.GetMitreTechniques()[0] != "T1003.004" {
			t.Errorf("classification: %v", a)
		}
		parent := false
		for _, e := range a.GetEvidence() {
			f := e.GetFields()
			parent = parent || strings.HasSuffix(f["ParentImage"]+f["ParentProcessName"], "PSEXESVC.exe")
		}
		if !parent {
			t.Errorf("no evidence of reg.exe under PSEXESVC.exe")
		}
	})
}

// Only S11 holds a reg save, of SECURITY: the other hives are minimal hand-written events.
func TestLSASecretsDumpVariants(t *testing.T) {
	t.Parallel()
	reg := `C:\Windows\System32\reg.exe`
	tests := []struct {
		name, cl      string
		wantSeverity  adjoinv1.Severity // UNSPECIFIED for silence
		wantTechnique string
	}{
		{"SAM", `reg save HKLM\SAM C:\t\sam.save`, adjoinv1.Severity_SEVERITY_HIGH, "T1003.002"},
		{"SECURITY long form, reg.exe", `"reg.exe" save "HKEY_LOCAL_MACHINE\SECURITY" C:\t\s`, adjoinv1.Severity_SEVERITY_HIGH, "T1003.004"},
		{"SYSTEM hive alone", `reg.exe save hklm\system C:\t\sys /y`, adjoinv1.Severity_SEVERITY_MEDIUM, "T1003.002"},
		{"export of SAM", `reg export HKLM\SAM\SAM\Domains C:\t\d.reg`, adjoinv1.Severity_SEVERITY_HIGH, "T1003.002"},
		{"SYSTEM subkey is administration", `reg export HKLM\SYSTEM\CurrentControlSet\Services\Tcpip C:\t\tcp.reg`, 0, ""},
		{"reg query", `reg query HKLM\SECURITY`, 0, ""},
		{"HKLM\\SOFTWARE", `reg save HKLM\SOFTWARE C:\t\sw`, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := NewLSASecretsDump().Detect(credProcEvent(reg, tt.cl))
			if tt.wantSeverity == adjoinv1.Severity_SEVERITY_UNSPECIFIED {
				if len(got) != 0 {
					t.Fatalf("unexpected alert: %s", got[0].GetDescription())
				}
				return
			}
			if len(got) != 1 || got[0].GetSeverity() != tt.wantSeverity || got[0].GetMitreTechniques()[0] != tt.wantTechnique {
				t.Fatalf("alerts = %v, want %v %s", got, tt.wantSeverity, tt.wantTechnique)
			}
		})
	}
}
