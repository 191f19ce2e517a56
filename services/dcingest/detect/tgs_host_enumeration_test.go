package detect

import (
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
)

func tgsHostEnumDetector(*Sessions) detection.Detector { return NewTGSHostEnumeration() }

func TestTGSHostEnumerationOnRecordings(t *testing.T) {
	t.Parallel()
	const bloodhound = "evtx-to-mitre-attack/ndjson/ID4769-Kerberos TGS host enumeration (Bloodhound).json"
	type testCase struct {
		name string
		file string
		mk   func(*Sessions) detection.Detector
		want []reconWant
	}
	tests := []testCase{
		{
			// 16 distinct HOST$ services in 0.53 s (krbtgt renewals are not counted): the episode
			// starts at the 10th (MSSQL01$) and takes 8 events; the two ROOTDC1$ tickets 54 s
			// later are a new, quiet key.
			name: "S13 BloodHound TGS sweep by admmig from 10.23.23.9",
			file: bloodhound,
			mk:   tgsHostEnumDetector,
			want: []reconWant{{actor: `offsec.lan\admmig`, sourceIP: "10.23.23.9", target: "rootdc1.offsec.lan", evidence: 8}},
		},
		{
			name: "S13 BloodHound below a threshold of 17 hosts: silent",
			file: bloodhound,
			mk:   func(*Sessions) detection.Detector { d := NewTGSHostEnumeration(); d.Threshold = 17; return d },
		},
		{name: "S13 Kerberoasting and machine TGS traffic", file: "evtx-to-mitre-attack/ndjson/ID4769-Kerberoast ticket with low encryption.json", mk: tgsHostEnumDetector},
		{name: "S13 golden ticket use (4 hosts over 5 minutes)", file: "evtx-to-mitre-attack/ndjson/ID4769-Golden ticket issued.json", mk: tgsHostEnumDetector},
		{name: "S13 noPac", file: "evtx-to-mitre-attack/ndjson/ID4768-4769-Kerberos host ticket without a trailing $.json", mk: tgsHostEnumDetector},
	}
	// Ordinary TGS traffic of the OTRF lab: users and machines asking for a host or two.
	for _, file := range []string{
		"otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json",
		"otrf/host/empire_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-09-21185829.sec-sys-sysmon.json",
		"otrf/host/empire_shell_rubeus_asktgt_ptt_2020-09-21223848.sec-sys-sysmon.json",
		"otrf/host/empire_over_pth_patch_lsass_2020-09-21221336.sec-sys-sysmon.json",
		"otrf/host/empire_psexec_dcerpc_tcp_svcctl_2020-09-20121608.sec-sys-sysmon.json",
		"otrf/host/covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.json",
		"otrf/host/empire_shell_samr_EnumDomainUsers_2020-09-21193527.sec-sys-sysmon.json",
		"otrf/host/covenant_getdomaingroup_ldap_searchrequest_domain_admins_2020-09-22141005.json",
	} {
		tests = append(tests, testCase{name: "OTRF " + file, file: file, mk: tgsHostEnumDetector})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reconCheck(t, reconRun(t, tt.file, tt.mk), "tgs-host-enumeration", []string{"T1087.002", "T1018"}, tt.want)
		})
	}
}

func TestTGSHostEnumerationAlertIDIsStableAcrossReplays(t *testing.T) {
	t.Parallel()
	file := "evtx-to-mitre-attack/ndjson/ID4769-Kerberos TGS host enumeration (Bloodhound).json"
	if a, b := reconIDs(reconRun(t, file, tgsHostEnumDetector)), reconIDs(reconRun(t, file, tgsHostEnumDetector)); a == "" || a != b {
		t.Fatalf("ids differ between replays: %s vs %s", a, b)
	}
}

func TestTGSHostEnumerationBackground(t *testing.T) {
	t.Parallel()
	reconLogBackground(t, tgsHostEnumDetector)
}
