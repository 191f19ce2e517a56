package detect

import (
	"fmt"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
)

const domGroupEnumFile = "otrf/more/discovery/empire_shell_rpc_samr_smb_group_domain_admins_standard_user_2020-09-21040850.json"

func TestSAMRGroupEnumeration(t *testing.T) {
	t.Parallel()
	// `net group "Domain Admins" /domain` by the standard user sbeavers from WORKSTATION6: 5145
	// samr twice, 4661 SAM_DOMAIN with 0x20094 (no listing right) and two 4661 SAM_GROUP …-512
	// in one logon session (0x5b0d6fa): one alert, tagged group enumeration.
	reconCheck(t, reconRun(t, domGroupEnumFile, samrDetector), "samr-enumeration", []string{"T1087.002", "T1069.002"},
		[]reconWant{{actor: `theshire\sbeavers`, sourceIP: "172.18.39.6", target: "mordordc.theshire.local", evidence: 4}})
}

func TestSAMRGroupEnumerationQuiet(t *testing.T) {
	t.Parallel()
	// ntdsutil on DC01: lsass opens Administrators and Backup Operators (S-1-5-32-544/551) for
	// DC01$ and for the local Administrator session: local, not enumeration.
	reconCheck(t, reconRun(t, "otrf/more/credential_access/cmd_dumping_ntds_dit_file_ntdsutil.no-vbox-sysmon10.json", samrDetector),
		"samr-enumeration", nil, nil)
	// S7 `net user /domain`: SAMR, but no group opened, so account enumeration only.
	reconCheck(t, reconRun(t, "otrf/host/empire_shell_samr_EnumDomainUsers_2020-09-21193527.sec-sys-sysmon.json", samrDetector),
		"samr-enumeration", []string{"T1087.002"}, []reconWant{{actor: `theshire\pgustavo`, sourceIP: "172.18.39.5", target: "mordordc.theshire.local", evidence: 2}})
}

// domPipe is a hand-written 5145 opening pipe on IPC$ (fields as Windows writes them).
func domPipe(second int, ip, user, pipe string) string {
	return fmt.Sprintf(`{"EventID":5145,"Channel":"Security","Computer":"DC01.corp.local","TimeCreated":"2021-03-01T10:00:%02dZ","SubjectUserSid":"S-1-5-21-1-2-3-1105","SubjectUserName":"%s","SubjectDomainName":"CORP","SubjectLogonId":"0x4a2b1","ObjectType":"File","IpAddress":"%s","IpPort":"50123","ShareName":"\\\\*\\IPC$","ShareLocalPath":"","RelativeTargetName":"%s","AccessMask":"0x12019f","AccessReason":"-"}`,
		second, user, ip, pipe)
}

func TestNamedPipeSweep(t *testing.T) {
	t.Parallel()
	// Hand-written: no recording holds a pipe sweep. Ten pipes from one address in ten seconds
	// (two opened twice) is one alert; its evidence starts at the eighth distinct pipe.
	pipes := []string{"lsarpc", "samr", "netlogon", "srvsvc", "wkssvc", "spoolss", "efsrpc", "atsvc", "eventlog", "winreg", "samr", "spoolss"}
	var lines []string
	for i, p := range pipes {
		lines = append(lines, domPipe(i, "10.0.0.66", "eve", p))
	}
	mk := func(*Sessions) detection.Detector { return NewNamedPipeSweep() }
	reconCheck(t, reconRunEvents(reconParse(t, lines...), mk), "named-pipe-sweep", []string{"T1046"},
		[]reconWant{{actor: `corp\eve`, sourceIP: "10.0.0.66", target: "dc01.corp.local", evidence: 5}})
	// Seven pipes, or eight from two addresses, stay under the threshold; a machine account's
	// sweep is the machine's own business.
	var few, split, machine []string
	for i, p := range pipes[:8] {
		if i < 7 {
			few = append(few, domPipe(i, "10.0.0.66", "eve", p))
		}
		split = append(split, domPipe(i, fmt.Sprintf("10.0.0.%d", 60+i%2), "eve", p))
		machine = append(machine, domPipe(i, "10.0.0.66", "WS01$", p))
	}
	for name, lines := range map[string][]string{"7 pipes": few, "two sources": split, "machine account": machine} {
		if alerts := reconRunEvents(reconParse(t, lines...), mk); len(alerts) != 0 {
			t.Errorf("%s alerted: %v", name, alerts)
		}
	}
}

// domQuietFiles are recordings of other techniques and ordinary traffic: the new identity
// detectors must raise nothing on them (each detector's own recording is left out).
var domQuietFiles = []string{
	reconBackground,
	"otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json",
	"otrf/host/empire_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-09-21185829.sec-sys-sysmon.json",
	"otrf/host/empire_psexec_dcerpc_tcp_svcctl_2020-09-20121608.sec-sys-sysmon.json",
	"otrf/host/covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.json",
	"otrf/host/empire_shell_samr_EnumDomainUsers_2020-09-21193527.sec-sys-sysmon.json",
	"otrf/host/covenant_getdomaingroup_ldap_searchrequest_domain_admins_2020-09-22141005.json",
	"otrf/more/lateral_movement/covenant_sc_query_dcerpc_smb_svcctl_2020-08-05034820.json",
	"otrf/more/lateral_movement/covenant_copy_smb_CreateRequest_2020-09-22145302.json",
	"otrf/more/lateral_movement/schtask_create_2020-12-1907003032.json",
	"otrf/more/credential_access/empire_mimikatz_backupkeys_dcerpc_smb_lsarpc_2020-10-22143243.sec-sys-sysmon.json",
	"otrf/more/credential_access/cmd_dumping_ntds_dit_file_ntdsutil.no-vbox-sysmon10.json",
	"otrf/more/credential_access/cmd_dumping_ntds_dit_file_volume_shadow_copy.no-vbox-sysmon10.json",
	"otrf/more/defense_evasion/empire_powerview_ldap_ntsecuritydescriptor_2020-09-21130944.sec-sys-sysmon.json",
	"evtx-to-mitre-attack/ndjson/ID4662-DCsync attack using Mimikatz.json",
	"evtx-to-mitre-attack/ndjson/ID4769-Kerberos TGS host enumeration (Bloodhound).json",
	"evtx-to-mitre-attack/ndjson/ID4688,4697,5140-5145 PSexec remote execution + admin share.json",
	"evtx-to-mitre-attack/ndjson/ID4768-4771-Kerberos user enumeration (Kerbrute).json",
	domZerologonFile,
	domGroupEnumFile,
	domNoPacFile,
}

func TestDominanceDetectorsQuietOnOtherRecordings(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("reads most recordings")
	}
	own := map[string]string{"zerologon": domZerologonFile, "samaccountname-spoofing": domNoPacFile}
	mks := []func(*Sessions) detection.Detector{
		func(*Sessions) detection.Detector { return NewZerologon(nil) },
		func(s *Sessions) detection.Detector { return NewDCPasswordReset(nil, s) },
		func(*Sessions) detection.Detector { return NewDCShadow(nil) },
		func(*Sessions) detection.Detector { return NewSAMAccountNameSpoofing(nil) },
		func(s *Sessions) detection.Detector { return NewRBCDConfigured(nil, s) },
		func(s *Sessions) detection.Detector { return NewSPNAddedToUser(nil, s) },
		func(s *Sessions) detection.Detector { return NewSIDHistoryAdded(nil, s) },
		func(*Sessions) detection.Detector { return NewNamedPipeSweep() },
		func(*Sessions) detection.Detector { return NewLDAPRecon() },
		func(s *Sessions) detection.Detector { return NewPrivilegedACLChange(s) },
	}
	for _, file := range domQuietFiles {
		events := reconEvents(t, file)
		for _, mk := range mks {
			name := mk(nil).Name()
			if own[name] == file {
				continue
			}
			if alerts := reconRunEvents(events, mk); len(alerts) != 0 {
				t.Errorf("%s on %s: %d alerts, first: %s", name, file, len(alerts), alerts[0].GetDescription())
			}
		}
	}
}

func TestSAMRRemoteSessionsBound(t *testing.T) {
	t.Parallel()
	// Hand-written 5145 samr opens in two sessions with room for one: the older is forgotten,
	// so its later 4661 is taken for local.
	pipe := func(logonID string) string {
		return `{"EventID":5145,"Channel":"Security","Computer":"DC01.corp.local","TimeCreated":"2021-03-01T10:00:00Z","SubjectUserSid":"S-1-5-21-1-2-3-1105","SubjectUserName":"eve","SubjectDomainName":"CORP","SubjectLogonId":"` + logonID + `","ObjectType":"File","IpAddress":"10.0.0.66","IpPort":"50123","ShareName":"\\\\*\\IPC$","RelativeTargetName":"samr","AccessMask":"0x12019f"}`
	}
	r := samrRemote{max: 1}
	for _, ev := range reconParse(t, pipe("0x1"), pipe("0x2")) {
		r.note(ev)
	}
	// Builtin objects: only a remembered pipe makes the session remote.
	if r.counts(nil, "DC01.corp.local", "0x1", true) || !r.counts(nil, "DC01.corp.local", "0x2", true) {
		t.Errorf("with room for one session: 0x1 counts %v (want false), 0x2 counts %v (want true)",
			r.counts(nil, "DC01.corp.local", "0x1", true), r.counts(nil, "DC01.corp.local", "0x2", true))
	}
	if r.pipes.Len() != 1 {
		t.Errorf("%d sessions held, want 1", r.pipes.Len())
	}
}
