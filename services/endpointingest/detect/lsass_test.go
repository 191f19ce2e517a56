package detect

import (
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

func detect(t *testing.T, file string) []*adjoinv1.Alert {
	t.Helper()
	procs := NewProcesses(1000)
	detectors := []detection.Detector{procs, NewLSASSAccess(procs)}
	var alerts []*adjoinv1.Alert
	for _, ev := range sample.Events(t, file) {
		alerts = append(alerts, detection.Run(detectors, ev)...)
	}
	return detection.Merge(alerts)
}

func TestLSASSAccessOnRecordings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		file         string
		wantHost     string // of the single alert; "" for none
		wantSource   string // lower-case image base name
		wantEvidence int
		wantUser     string            // DOMAIN\sam of the actor, "" when the recording cannot tell
		wantSeverity adjoinv1.Severity // HIGH when unset
	}{
		{
			// Sysmon 10 (0x1010, 0x1038) and Security 4656/4663 of the same process: one alert,
			// whose user the 4656 subject names.
			name:     "S4 mimikatz pth from Empire powershell on WORKSTATION6",
			file:     "otrf/host/empire_over_pth_patch_lsass_2020-09-21221336.sec-sys-sysmon.json",
			wantHost: "WORKSTATION6.theshire.local", wantSource: "powershell.exe", wantEvidence: 6, wantUser: `theshire\wardog`,
		},
		{
			name:     "Empire Invoke-Mimikatz sekurlsa::logonpasswords",
			file:     "otrf/more/credential_access/empire_mimikatz_logonpasswords_2020-08-07103224.sec-sys-sysmon.json",
			wantHost: "WORKSTATION5.theshire.local", wantSource: "powershell.exe", wantEvidence: 3, wantUser: `theshire\pgustavo`,
		},
		{
			name:     "Empire mimikatz lsadump::lsa /patch (0x1438)",
			file:     "otrf/more/credential_access/empire_mimikatz_lsadump_patch_2020-08-07103913.sec-sys-sysmon.json",
			wantHost: "WORKSTATION5.theshire.local", wantSource: "powershell.exe", wantEvidence: 3, wantUser: `theshire\pgustavo`,
		},
		{
			// The protected LSASS refused mimikatz.exe's handle (4656 audit failure 0x43a),
			// seen only by Security; the outcome does not reach detectors, so it reads high.
			name:     "mimikatz lsadump::lsa /inject against a protected LSASS",
			file:     "otrf/more/credential_access/empire_mimikatz_lsadump_inject_protected_mode_2020-08-07110411.json",
			wantHost: "WORKSTATION5.theshire.local", wantSource: "mimikatz.exe", wantEvidence: 1, wantUser: `theshire\pgustavo`,
		},
		{
			name: "S9 comsvcs.dll MiniDump through rundll32",
			file: "otrf/host/psh_lsass_memory_dump_comsvcs_2020-10-18T19500924.json",
			// The PowerShell export lists newest first, so the Sysmon 1 naming wardog comes
			// after the access and the process table cannot name the user yet.
			wantHost: "WORKSTATION5", wantSource: "rundll32.exe", wantEvidence: 6, wantUser: `workstation5\wardog`,
		},
		{
			name:     "S10 Outflank Dumpert direct syscalls",
			file:     "otrf/host/cmd_lsass_memory_dumpert_syscalls_2020-10-1822561997.json",
			wantHost: "WORKSTATION5", wantSource: "outflank-dumpert.exe", wantEvidence: 6, wantUser: `workstation5\wardog`,
		},
		{
			name:     "S13 mimikatz sekurlsa on FS03",
			file:     "evtx-to-mitre-attack/ndjson/ID10-Mimikatz LSASS process dump.json",
			wantHost: "FS03.offsec.lan", wantSource: "mimikatz.exe", wantEvidence: 1, wantUser: `offsec\admmig`,
		},
		{
			name:     "S13 lsassy through comsvcs on FS03",
			file:     "evtx-to-mitre-attack/ndjson/ID1-LSASS dump with LSASSY (SYSMON).json",
			wantHost: "FS03.offsec.lan", wantSource: "rundll32.exe", wantEvidence: 1, wantUser: `offsec\admmig`,
		},
		{
			name: "S1 DCSync recording: svchost's 0x1000 handles on lsass are not alerts",
			file: "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json",
		},
		{
			name: "S11 PsExec LSA secrets dump reads the registry, not LSASS memory",
			file: "otrf/host/cmd_psexec_lsa_secrets_dump_2020-10-1903305471.json",
		},
		{
			// The Microsoft Monitoring Agent's 4656 0x1410 on lsass.exe is monitoring.
			name: "scheduled task recording: HealthService.exe is a known reader",
			file: "otrf/more/lateral_movement/schtask_create_2020-12-1907003032.json",
		},
		{
			name: "SAMR group enumeration: svchost query handles only",
			file: "otrf/more/discovery/empire_shell_rpc_samr_smb_group_domain_admins_standard_user_2020-09-21040850.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := detect(t, tt.file)
			if tt.wantHost == "" {
				for _, a := range alerts {
					t.Errorf("unexpected alert: %s", a.GetDescription())
				}
				return
			}
			if len(alerts) != 1 {
				t.Fatalf("%d alerts, want 1: %v", len(alerts), alerts)
			}
			a := alerts[0]
			host := a.GetEntities()[0]
			if got := host.GetDnsHostName() + host.GetNetbiosName(); !strings.EqualFold(got, tt.wantHost) {
				t.Errorf("host = %q, want %q", got, tt.wantHost)
			}
			ef := a.GetEvidence()[0].GetFields()
			if got := detection.BaseName(ef["SourceImage"] + ef["ProcessName"]); got != tt.wantSource {
				t.Errorf("source image = %q, want %q", got, tt.wantSource)
			}
			if got := len(a.GetEvidence()); got != tt.wantEvidence {
				t.Errorf("evidence = %d, want %d", got, tt.wantEvidence)
			}
			user := ""
			for _, e := range a.GetEntities() {
				if e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_USER {
					user = e.GetDomain() + `\` + e.GetSamAccountName()
				}
			}
			if user != tt.wantUser {
				t.Errorf("user = %q, want %q", user, tt.wantUser)
			}
			want := tt.wantSeverity
			if want == adjoinv1.Severity_SEVERITY_UNSPECIFIED {
				want = adjoinv1.Severity_SEVERITY_HIGH
			}
			if a.GetSeverity() != want {
				t.Errorf("severity = %v, want %v", a.GetSeverity(), want)
			}
			if a.GetSide() != adjoinv1.Side_SIDE_ENDPOINT || a.GetMitreTechniques()[0] != "T1003.001" {
				t.Errorf("alert fields: %v", a)
			}
		})
	}
}

func TestLSASSAccessBackgroundPlaybook(t *testing.T) {
	if testing.Short() {
		t.Skip("13 MB recording")
	}
	t.Parallel()
	for _, a := range detect(t, "otrf/background/purplesharp_ad_playbook_I_2020-10-22042947.sec-sys-sysmon-no-sysmon12.json") {
		// Its LSASS accesses are svchost's 0x1000/0x3000 handles, which read no memory.
		t.Errorf("unexpected alert on background: %s", a.GetDescription())
	}
}
