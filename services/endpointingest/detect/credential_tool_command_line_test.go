package detect

import (
	"slices"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestCredentialToolOnRecordings(t *testing.T) {
	t.Parallel()
	credCheck(t, func(*Processes) detection.Detector { return NewCredentialToolCommandLine() }, map[string][]string{
		// Rubeus.exe asktgt /user:pgustavo /rc4:... /ptt run by wardog: Sysmon 1 and 4688 are
		// one alert; the abused identity pgustavo is the target (no domain on the command line).
		"otrf/host/empire_shell_rubeus_asktgt_ptt_2020-09-21223848.sec-sys-sysmon.json": {`WORKSTATION6.theshire.local actor=theshire\wardog target=\pgustavo evidence=2`},
		// The CC0 sample starts mimikatz.exe bare (commands typed at its prompt are not logged):
		// the binary itself is the finding.
		"evtx-to-mitre-attack/ndjson/ID10-Mimikatz LSASS process dump.json": {`FS03.offsec.lan actor=offsec\admmig target=- evidence=1`},
	}, func(t *testing.T, a *adjoinv1.Alert) {
		if a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH {
			t.Errorf("severity %v", a.GetSeverity())
		}
		if strings.Contains(a.GetTitle(), "rubeus") && !slices.Equal(a.GetMitreTechniques(), []string{"T1550.003", "T1550.002"}) {
			t.Errorf("rubeus asktgt /rc4 /ptt techniques = %v", a.GetMitreTechniques())
		}
	})
}

// No recording holds these command lines: minimal hand-written events.
func TestCredentialToolVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, image, cl string
		want            []string // techniques; nil for silence
		wantTarget      string
	}{
		{"mimikatz one-liner", `C:\t\m.exe`, `m.exe "privilege::debug" "sekurlsa::logonpasswords" exit`, []string{"T1003.001"}, ""},
		{"mimikatz dcsync", `C:\t\mimikatz.exe`, `mimikatz.exe "lsadump::dcsync /domain:corp.example /user:krbtgt"`, []string{"T1003.006"}, `corp.example\krbtgt`},
		{"mimikatz golden ticket and ptt", `C:\t\x.exe`, `x.exe "kerberos::golden /user:fake /domain:corp /sid:S-1-5-21-1 /krbtgt:abc /ptt"`, []string{"T1558.001"}, `corp\fake`},
		{"Rubeus kerberoast", `C:\Users\a\Rubeus.exe`, `Rubeus.exe kerberoast /outfile:h.txt`, []string{"T1558.003"}, ""},
		{"renamed Rubeus asreproast", `C:\Users\a\r.exe`, `r.exe asreproast /format:hashcat`, []string{"T1558.004"}, ""},
		{"Rubeus s4u", `C:\Users\a\Rubeus.exe`, `Rubeus.exe s4u /user:web$ /impersonateuser:admin /msdsspn:cifs/fs1`, []string{"T1550.003"}, `\web$`},
		{"kerberos::list is not theft", `C:\t\x.exe`, `x.exe kerberos::list`, nil, ""},
		{"ptt outside Rubeus", `C:\Windows\System32\cmd.exe`, `cmd.exe /c echo ptt dump`, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := NewCredentialToolCommandLine().Detect(credProcEvent(tt.image, tt.cl))
			if tt.want == nil {
				if len(got) != 0 {
					t.Fatalf("unexpected alert: %s", got[0].GetDescription())
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d alerts, want 1", len(got))
			}
			if !slices.Equal(got[0].GetMitreTechniques(), tt.want) {
				t.Errorf("techniques = %v, want %v", got[0].GetMitreTechniques(), tt.want)
			}
			target := ""
			for _, e := range got[0].GetEntities() {
				if e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_TARGET {
					target = e.GetDomain() + `\` + e.GetSamAccountName()
				}
			}
			if target != tt.wantTarget {
				t.Errorf("target = %q, want %q", target, tt.wantTarget)
			}
		})
	}
}
