package detect

import (
	"fmt"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func shareEnumDetector(*Sessions) detection.Detector { return NewShareEnumeration() }

// Hand-written events: among the recordings only the S12 background (whose ground truth is not
// asserted on) has a 5145 srvsvc, so the positive cases are minimal events in the two schemas
// the DC-side recordings use (OTRF NXLog and our EVTX conversion).
const (
	shareEnumOTRF = `{"EventID":5145,"Channel":"Security","Hostname":"WORKSTATION6.theshire.local","EventTime":"2020-10-22 04:29:54","@timestamp":"2020-10-22T08:29:55.100Z","SubjectUserName":"%s","SubjectDomainName":"THESHIRE","SubjectUserSid":"S-1-5-21-1-2-3-1104","SubjectLogonId":"%s","IpAddress":"172.18.39.5","IpPort":"58196","ShareName":"\\\\*\\%s","RelativeTargetName":"%s","AccessMask":"0x12019f"}`
	shareEnumEVTX = `{"EventID":5145,"Channel":"security","Computer":"fs02.offsec.lan","TimeCreated":"2021-04-21T09:40:32.342396Z","EventRecordID":"42","SubjectUserName":"admmig","SubjectDomainName":"OFFSEC","SubjectUserSid":"S-1-5-21-9-8-7-1111","SubjectLogonId":"0x00000000001b2c3d","IpAddress":"::ffff:10.23.23.9","IpPort":"50000","ShareName":"\\\\*\\IPC$","RelativeTargetName":"\\srvsvc","AccessMask":"0x0012019f"}`
)

func TestShareEnumeration(t *testing.T) {
	t.Parallel()
	otrf := func(user, logonID, share, pipe string) string {
		return fmt.Sprintf(shareEnumOTRF, user, logonID, share, pipe)
	}
	tests := []struct {
		name  string
		lines []string
		want  []reconWant
	}{
		{
			name:  "user opens srvsvc on IPC$",
			lines: []string{otrf("pgustavo", "0x8fc1d9", "IPC$", "srvsvc")},
			want:  []reconWant{{actor: `theshire\pgustavo`, sourceIP: "172.18.39.5", target: "workstation6.theshire.local", evidence: 1}},
		},
		{
			name:  "two opens in one logon session are one alert",
			lines: []string{otrf("pgustavo", "0x8fc1d9", "IPC$", "srvsvc"), otrf("pgustavo", "0x8FC1D9", "IPC$", "SRVSVC")},
			want:  []reconWant{{actor: `theshire\pgustavo`, sourceIP: "172.18.39.5", target: "workstation6.theshire.local", evidence: 2}},
		},
		{
			name:  "another logon session from the same source is the same sweep",
			lines: []string{otrf("pgustavo", "0x8fc1d9", "IPC$", "srvsvc"), otrf("pgustavo", "0x8fc1da", "IPC$", "srvsvc")},
			want:  []reconWant{{actor: `theshire\pgustavo`, sourceIP: "172.18.39.5", target: "workstation6.theshire.local", evidence: 2}},
		},
		{
			name:  "another account is another alert",
			lines: []string{otrf("pgustavo", "0x8fc1d9", "IPC$", "srvsvc"), otrf("sbeavers", "0x8fc1da", "IPC$", "srvsvc")},
			want: []reconWant{
				{actor: `theshire\pgustavo`, sourceIP: "172.18.39.5", target: "workstation6.theshire.local", evidence: 1},
				{actor: `theshire\sbeavers`, sourceIP: "172.18.39.5", target: "workstation6.theshire.local", evidence: 1},
			},
		},
		{
			name:  "EVTX schema, pipe with a leading backslash, mapped IPv4",
			lines: []string{shareEnumEVTX},
			want:  []reconWant{{actor: `offsec\admmig`, sourceIP: "10.23.23.9", target: "fs02.offsec.lan", evidence: 1}},
		},
		{name: "machine account is skipped", lines: []string{otrf("WORKSTATION5$", "0x1", "IPC$", "srvsvc")}},
		{name: "samr is not share enumeration", lines: []string{otrf("pgustavo", "0x1", "IPC$", "samr")}},
		{name: "srvsvc outside IPC$ is a file, not the pipe", lines: []string{otrf("pgustavo", "0x1", "C$", "srvsvc")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := reconRunEvents(reconParse(t, tt.lines...), shareEnumDetector)
			reconCheck(t, alerts, "share-enumeration", []string{"T1135", "T1049"}, tt.want)
		})
	}
}

func TestShareEnumerationSilentOnRecordings(t *testing.T) {
	t.Parallel()
	for _, file := range []string{
		"otrf/host/empire_shell_samr_EnumDomainUsers_2020-09-21193527.sec-sys-sysmon.json",             // samr, not srvsvc
		"otrf/host/covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.json",                    // svcctl, lsarpc, samr
		"otrf/host/cmd_psexec_lsa_secrets_dump_2020-10-1903305471.json",                                // PSEXESVC pipe
		"evtx-to-mitre-attack/ndjson/ID4688,4697,5140-5145 PSexec remote execution + admin share.json", // ADMIN$, PSEXESVC pipes
		"evtx-to-mitre-attack/ndjson/ID4624-Mimikatz Pass the hash.json",                               // C$
	} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			reconCheck(t, reconRun(t, file, shareEnumDetector), "share-enumeration", []string{"T1135", "T1049"}, nil)
		})
	}
}

func TestShareEnumerationBackground(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("13 MB recording")
	}
	// S12: pgustavo's PurpleSharp on WORKSTATION5 opens srvsvc on MORDORDC, WORKSTATION7 and
	// WORKSTATION6 within 0.1 s (NetSessionEnum; the targets' Sysmon 18 shows System serving
	// \srvsvc at the same second): one sweep, one alert naming the three hosts.
	alerts := reconRun(t, reconBackground, shareEnumDetector)
	reconCheck(t, alerts, "share-enumeration", []string{"T1135", "T1049"},
		[]reconWant{{actor: `theshire\pgustavo`, sourceIP: "172.18.39.5", target: "mordordc.theshire.local", evidence: 3}})
	var hosts []string
	for _, e := range alerts[0].GetEntities() {
		if e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST {
			hosts = append(hosts, strings.ToLower(e.GetDnsHostName()))
		}
	}
	if len(hosts) != 3 || alerts[0].GetSeverity() != adjoinv1.Severity_SEVERITY_MEDIUM {
		t.Errorf("hosts %v severity %v, want 3 hosts and medium", hosts, alerts[0].GetSeverity())
	}
}
