package detect

import (
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
)

func samrDetector(s *Sessions) detection.Detector { return NewSAMREnumeration(s) }

func TestSAMREnumerationOnRecordings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		mk   func(*Sessions) detection.Detector
		want []reconWant
	}{
		{
			name: "S7 net user /domain by pgustavo from WORKSTATION5: 5145 samr + 4661 SAM_DOMAIN 0xf01ff in one session",
			file: "otrf/host/empire_shell_samr_EnumDomainUsers_2020-09-21193527.sec-sys-sysmon.json",
			mk:   samrDetector,
			want: []reconWant{{actor: `theshire\pgustavo`, sourceIP: "172.18.39.5", target: "mordordc.theshire.local", evidence: 2}},
		},
		{
			name: "S7 without a session table: the 4661 still folds into the 5145's alert",
			file: "otrf/host/empire_shell_samr_EnumDomainUsers_2020-09-21193527.sec-sys-sysmon.json",
			mk:   func(*Sessions) detection.Detector { return NewSAMREnumeration(nil) },
			want: []reconWant{{actor: `theshire\pgustavo`, sourceIP: "172.18.39.5", target: "mordordc.theshire.local", evidence: 2}},
		},
		{
			name: "S6 machine accounts WEC$ and WORKSTATION5$ open samr and SAM_DOMAIN (0x20094): silent",
			file: "otrf/host/covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.json",
			mk:   samrDetector,
		},
		{
			name: "S1 DCSync: no SAMR",
			file: "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json",
			mk:   samrDetector,
		},
		{
			name: "S8 LDAP group recon: no SAMR on the DC",
			file: "otrf/host/covenant_getdomaingroup_ldap_searchrequest_domain_admins_2020-09-22141005.json",
			mk:   samrDetector,
		},
		{
			name: "S13 PsExec 5145 on ADMIN$ and the IPC$ PSEXESVC pipes by admmig: silent",
			file: "evtx-to-mitre-attack/ndjson/ID4688,4697,5140-5145 PSexec remote execution + admin share.json",
			mk:   samrDetector,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reconCheck(t, reconRun(t, tt.file, tt.mk), "samr-enumeration", []string{"T1087.002"}, tt.want)
		})
	}
}

const (
	events4624 = `{"EventID":4624,"Channel":"Security","Hostname":"MORDORDC.theshire.local","EventTime":"2020-09-21 19:35:37","@timestamp":"2020-09-21T23:35:39.900Z","TargetUserName":"pgustavo","TargetDomainName":"THESHIRE","TargetUserSid":"S-1-5-21-1-2-3-1104","TargetLogonId":"0x69a2695","LogonType":"3","IpAddress":"172.18.39.5"}`
	events4661 = `{"EventID":4661,"Channel":"Security","Hostname":"MORDORDC.theshire.local","EventTime":"2020-09-21 19:35:37","@timestamp":"2020-09-21T23:35:39.962Z","SubjectUserName":"pgustavo","SubjectDomainName":"THESHIRE","SubjectUserSid":"S-1-5-21-1-2-3-1104","SubjectLogonId":"0x69a2695","ObjectServer":"Security Account Manager","ObjectType":"SAM_DOMAIN","ObjectName":"DC=theshire,DC=local","AccessMask":"0x20094"}`
)

func TestSAMREnumerationAccessMask(t *testing.T) {
	t.Parallel()
	// Hand-written: no recording has a user's SAM_DOMAIN open without the listing right. The
	// 4624 makes the session a network one.
	events := reconParse(t,
		events4624, events4661)
	if alerts := reconRunEvents(events, samrDetector); len(alerts) != 0 {
		t.Errorf("0x20094 (no DOMAIN_LIST_ACCOUNTS) alerted: %v", alerts)
	}
	all := func(s *Sessions) detection.Detector { d := NewSAMREnumeration(s); d.DomainAccess = 0; return d }
	if alerts := reconRunEvents(events, all); len(alerts) != 1 {
		t.Errorf("DomainAccess 0 gave %d alerts, want 1", len(alerts))
	}
	// Without its 4624 (a recording exported by event id) the open of the account domain
	// still counts; that of the Builtin domain, which local tools open, does not; nor does any
	// open in a session whose 4624 had no address.
	if alerts := reconRunEvents(events[1:], all); len(alerts) != 1 {
		t.Errorf("the lone 4661 gave %d alerts, want 1", len(alerts))
	}
	builtin := reconParse(t, strings.Replace(events4661, "DC=theshire,DC=local", "CN=Builtin,DC=theshire,DC=local", 1))
	if alerts := reconRunEvents(builtin, all); len(alerts) != 0 {
		t.Errorf("a lone 4661 on the Builtin domain alerted: %v", alerts)
	}
	local := reconParse(t, strings.Replace(events4624, `"LogonType":"3","IpAddress":"172.18.39.5"`, `"LogonType":"2","IpAddress":"-"`, 1), events4661)
	if alerts := reconRunEvents(local, all); len(alerts) != 0 {
		t.Errorf("a local session's 4661 alerted: %v", alerts)
	}
}

func TestSAMREnumerationLocalToolsOnTheDC(t *testing.T) {
	t.Parallel()
	// ntdsutil IFM on DC01 as Administrator: lsass opens SAM_DOMAIN (0xf01ff) and the built-in
	// aliases for a local session, with no 5145 samr and no network logon.
	reconCheck(t, reconRun(t, "otrf/more/credential_access/cmd_dumping_ntds_dit_file_ntdsutil.no-vbox-sysmon10.json", samrDetector),
		"samr-enumeration", []string{"T1087.002"}, nil)
}

func TestSAMREnumerationAlertIDIsStableAcrossReplays(t *testing.T) {
	t.Parallel()
	file := "otrf/host/empire_shell_samr_EnumDomainUsers_2020-09-21193527.sec-sys-sysmon.json"
	if a, b := reconIDs(reconRun(t, file, samrDetector)), reconIDs(reconRun(t, file, samrDetector)); a == "" || a != b {
		t.Fatalf("ids differ between replays: %s vs %s", a, b)
	}
}

func TestSAMREnumerationBackground(t *testing.T) {
	t.Parallel()
	reconLogBackground(t, samrDetector)
}
