package endpointingest

import (
	"sort"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// One dump, one alert: the credential detectors of Detectors share the alert of one theft
// (its command line, its LSASS handles in Sysmon 10 and Security 4656/4663, its dump file),
// where each used to raise its own.
func TestCredentialTheftIsOneAlert(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []string // detector [techniques] of each alert but the unrelated ones, sorted
	}{
		{"otrf/host/psh_lsass_memory_dump_comsvcs_2020-10-18T19500924.json", []string{"lsass-access [T1003.001]"}},
		{"otrf/host/cmd_lsass_memory_dumpert_syscalls_2020-10-1822561997.json", []string{"lsass-access [T1003.001]"}},
		{"evtx-to-mitre-attack/ndjson/ID1-LSASS dump with LSASSY (SYSMON).json", []string{"lsass-dump-comsvcs [T1003.001]"}},
		{"evtx-to-mitre-attack/ndjson/ID10-Mimikatz LSASS process dump.json", []string{"credential-tool-command-line [T1003.001]"}},
		{"otrf/more/credential_access/empire_mimikatz_logonpasswords_2020-08-07103224.sec-sys-sysmon.json", []string{"lsass-access [T1003.001]"}},
		// reg save HKLM\sam from an Empire agent: the launcher and reg.exe, in Sysmon and 4688.
		{"otrf/more/credential_access/empire_shell_reg_dump_sam_2020-09-22042823.json", []string{"lsa-secrets-dump [T1003.002]"}},
		// Sysmon's UtcTime 7 h off the envelope clock in this recording, which dates it: one
		// alert; the techniques of every trace the theft left accumulate (Merge).
		{"otrf/more/credential_access/cmd_dumping_ntds_dit_file_volume_shadow_copy.no-vbox-sysmon10.json",
			[]string{"credential-store-dump [T1003.003,T1003.002]"}},
		// A 4688 on a zone-less local clock, 8 h off Sysmon: one alert still.
		{"otrf/more/credential_access/cmd_sam_copy_esentutl_2020-10-1900290001.json", []string{"credential-store-dump [T1003.002]"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			ds := Detectors()
			var alerts []*adjoinv1.Alert
			for _, ev := range sample.Events(t, tt.file) {
				alerts = append(alerts, detection.Run(ds, ev)...)
			}
			var got []string
			for _, a := range detection.Merge(alerts) {
				switch a.GetDetector() {
				case "psexec-service-execution", "encoded-powershell", "user-binary-to-domain-service", "kerberos-from-non-lsass", "wmi-remote-execution":
					continue // other techniques of the same recordings
				}
				got = append(got, a.GetDetector()+" ["+strings.Join(a.GetMitreTechniques(), ",")+"]")
			}
			sort.Strings(got)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("alerts = %q, want %q", got, tt.want)
			}
		})
	}
}
