package detect

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestSMBRemoteExecutionOnRecordings(t *testing.T) {
	t.Parallel()
	type want struct {
		host, actor, source, technique, severity string
	}
	positives := map[string]want{
		"otrf/more/lateral_movement/covenant_copy_smb_CreateRequest_2020-09-22145302.json": {
			"WORKSTATION6.theshire.local", "pgustavo", "172.18.39.5", "T1570", "SEVERITY_MEDIUM"},
		"otrf/more/lateral_movement/covenant_sc_query_dcerpc_smb_svcctl_2020-08-05034820.json": {
			"MORDORDC.theshire.local", "pgustavo", "172.18.39.5", "T1569.002", "SEVERITY_LOW"},
		"otrf/more/lateral_movement/covenant_sharpsc_query_dcerpc_smb_svcctl_2020-08-06012009.json": {
			"WORKSTATION6.theshire.local", "pgustavo", "172.18.39.5", "T1569.002", "SEVERITY_LOW"},
		// Two svcctl opens 21 s apart (OpenService, then CreateService) are one alert.
		"otrf/host/covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.json": {
			"WORKSTATION6.theshire.local", "pgustavo", "172.18.39.5", "T1569.002", "SEVERITY_LOW"},
		// PSEXESVC.exe and cmd.exe written to ADMIN$, then the PSEXESVC pipes: high.
		"evtx-to-mitre-attack/ndjson/ID4688,4697,5140-5145 PSexec remote execution + admin share.json": {
			"srvdefender01.offsec.lan", "admmig", "10.23.42.22", "T1570", "SEVERITY_HIGH"},
		// PsExec -s against the host itself, over its own link-local address: the PSEXESVC pipe.
		"otrf/host/cmd_psexec_lsa_secrets_dump_2020-10-1903305471.json": {
			"WORKSTATION5", "wardog", "fe80::90e:17af:263c:5209", "T1569.002", "SEVERITY_HIGH"},
	}
	files := adjSampleFiles(t)
	files = append(files, adjBackground)
	for f := range positives {
		if !slices.Contains(files, f) {
			files = append(files, f)
		}
	}
	for _, more := range []string{"lateral_movement/covenant_sharpwmi_create_dcerpc_wmi_2020-08-06035621.json",
		"lateral_movement/schtask_create_2020-12-1907003032.json", "lateral_movement/empire_psremoting_stager_2020-09-20170827.sec-sys-sysmon.json",
		"credential_access/empire_mimikatz_backupkeys_dcerpc_smb_lsarpc_2020-10-22143243.sec-sys-sysmon.json",
		"discovery/empire_shell_rpc_samr_smb_group_domain_admins_standard_user_2020-09-21040850.json"} {
		files = append(files, "otrf/more/"+more)
	}
	set := func() []detection.Detector { return []detection.Detector{NewSMBRemoteExecution()} }
	lmRecordings(t, files, set, "smb-remote-execution", func(f string) bool { _, ok := positives[f]; return ok },
		func(t *testing.T, file string, a *adjoinv1.Alert, h, u, s *adjoinv1.EntityRef) {
			w := positives[file]
			if !strings.EqualFold(h.GetDnsHostName()+h.GetNetbiosName(), w.host) {
				t.Errorf("host = %v, want %s", h, w.host)
			}
			if u.GetSamAccountName() != w.actor || s.GetIp() != w.source {
				t.Errorf("actor %v source %v, want %s from %s", u, s, w.actor, w.source)
			}
			if !slices.Contains(a.GetMitreTechniques(), w.technique) || a.GetSeverity().String() != w.severity {
				t.Errorf("techniques %v severity %s, want %s %s", a.GetMitreTechniques(), a.GetSeverity(), w.technique, w.severity)
			}
		})
}

// smbExecEvent is a hand-written 5145 at second s: no recording holds RemCom, a renamed PsExec
// service, or a management agent's computer account opening svcctl.
func smbExecEvent(s int, user, ip, share, rel, mask string) *adjoinv1.Event {
	return &adjoinv1.Event{Channel: "Security", EventId: 5145, Host: "SRV1.corp.example",
		Time: timestamppb.New(time.Date(2024, 5, 1, 10, 0, s, 0, time.UTC)),
		Fields: map[string]string{"SubjectUserName": user, "SubjectDomainName": "CORP", "SubjectUserSid": "S-1-5-21-1-2-3-1105",
			"IpAddress": ip, "ShareName": `\\*\` + share, "RelativeTargetName": rel, "AccessMask": mask}}
}

// smbExecOn moves a hand-written event to another host.
func smbExecOn(host string, ev *adjoinv1.Event) *adjoinv1.Event {
	ev.Host = host
	return ev
}

func TestSMBRemoteExecutionHandWritten(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		events []*adjoinv1.Event
		want   int
	}{
		{"RemCom pipes and a renamed PsExec's stdin, one client: one alert", []*adjoinv1.Event{
			smbExecEvent(0, "eve", "10.0.0.9", "IPC$", "RemCom_communicaton", "0x12019f"),
			smbExecEvent(1, "eve", "10.0.0.9", "IPC$", "upd-WS1-4242-stdin", "0x12019f")}, 1},
		{"two clients: two alerts", []*adjoinv1.Event{
			smbExecEvent(0, "eve", "10.0.0.9", "ADMIN$", "x.exe", "0x2"),
			smbExecEvent(1, "eve", "10.0.0.8", "ADMIN$", "x.exe", "0x2")}, 2},
		{"one client opening svcctl on three hosts: one alert", []*adjoinv1.Event{
			smbExecEvent(0, "eve", "10.0.0.9", "IPC$", "svcctl", "0x12019f"),
			smbExecOn("SRV2.corp.example", smbExecEvent(1, "eve", "10.0.0.9", "IPC$", "svcctl", "0x12019f")),
			smbExecOn("SRV3.corp.example", smbExecEvent(2, "eve", "10.0.0.9", "IPC$", "svcctl", "0x12019f"))}, 1},
		{"read of an executable on C$ (no write access)", []*adjoinv1.Event{smbExecEvent(0, "eve", "10.0.0.9", "C$", `tools\x.exe`, "0x120089")}, 0},
		{"an installer written to a hidden deployment share", []*adjoinv1.Event{smbExecEvent(0, "eve", "10.0.0.9", "Software$", `x.msi`, "0x2")}, 0},
		{"a DLL written to D$", []*adjoinv1.Event{smbExecEvent(0, "eve", "10.0.0.9", "D$", `x.dll`, "0x6")}, 1},
		{"a document written to C$", []*adjoinv1.Event{smbExecEvent(0, "eve", "10.0.0.9", "C$", `x.docx`, "0x2")}, 0},
		{"a computer account opening svcctl", []*adjoinv1.Event{smbExecEvent(0, "SCCM01$", "10.0.0.5", "IPC$", "svcctl", "0x12019f")}, 0},
		{"loopback", []*adjoinv1.Event{smbExecEvent(0, "eve", "::1", "IPC$", "svcctl", "0x12019f")}, 0},
		{"the same client an hour later: a second episode", []*adjoinv1.Event{
			smbExecEvent(0, "eve", "10.0.0.9", "IPC$", "svcctl", "0x12019f"),
			{Channel: "Security", EventId: 5145, Host: "SRV1.corp.example", Time: timestamppb.New(time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)),
				Fields: map[string]string{"SubjectUserName": "eve", "IpAddress": "10.0.0.9", "ShareName": `\\*\IPC$`, "RelativeTargetName": "svcctl"}}}, 2},
	}
	for _, tt := range tests {
		got := adjRunEvents([]detection.Detector{NewSMBRemoteExecution()}, tt.events)
		if len(got) != tt.want {
			t.Errorf("%s: %d alerts, want %d", tt.name, len(got), tt.want)
			continue
		}
		hosts := map[string]bool{}
		for _, ev := range tt.events {
			hosts[ev.GetHost()] = true
		}
		if n := 0; len(got) == 1 {
			for _, e := range got[0].GetEntities() {
				if e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST {
					n++
				}
			}
			if n != len(hosts) {
				t.Errorf("%s: %d destination hosts, want %d", tt.name, n, len(hosts))
			}
		}
	}
}

func TestSMBRemoteExecutionEpisodeBound(t *testing.T) {
	t.Parallel()
	d := NewSMBRemoteExecution()
	d.MaxEpisodes = 4
	for i := range 20 {
		d.Detect(smbExecEvent(i, "eve", "10.0.1."+string(rune('0'+i%10))+string(rune('0'+i/10)), "IPC$", "svcctl", "0x12019f"))
	}
	if d.episodes.Len() != 4 {
		t.Fatalf("episodes = %d, want the bound 4", d.episodes.Len())
	}
}
