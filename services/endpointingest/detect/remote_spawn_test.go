package detect

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestWMIRemoteExecutionOnRecordings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, host, actor, source string // source: the 4624 address, "" when not logged
	}{
		{"SharpWMI Win32_Process create: WmiPrvSE -> GruntHTTP2.exe on WORKSTATION6",
			"otrf/more/lateral_movement/covenant_sharpwmi_create_dcerpc_wmi_2020-08-06035621.json",
			"workstation6.theshire.local", `theshire\pgustavo`, "172.18.39.5"},
		{"WSMan.Automation COM: WmiPrvSE -> whoami (4624 without an address)",
			"otrf/more/lateral_movement/covenant_com_wsman_automation_2020-10-13002455.json",
			"workstation6.theshire.local", `theshire\pgustavo`, ""},
		{"lsassy: WmiPrvSE -> powershell comsvcs MiniDump (Sysmon only)",
			"evtx-to-mitre-attack/ndjson/ID1-LSASS dump with LSASSY (SYSMON).json", "fs03.offsec.lan", `offsec\admmig`, ""},
		// Negative controls: WmiPrvSE starts, services, DCOM and WinRM without a WMI-run process.
		{"DCOM Excel macro blocked", "otrf/more/lateral_movement/covenant_dcom_executeexcel4macro_blocked_2020-09-17173147.json", "", "", ""},
		{"PowerShell remoting", "otrf/more/lateral_movement/empire_psremoting_stager_2020-09-20170827.sec-sys-sysmon.json", "", "", ""},
		{"remote scheduled task", "otrf/more/lateral_movement/schtask_modification_2020-12-1907505969.json", "", "", ""},
		{"S5 Invoke-PsExec", "otrf/host/empire_psexec_dcerpc_tcp_svcctl_2020-09-20121608.sec-sys-sysmon.json", "", "", ""},
		{"ntdsutil on a DC", "otrf/more/credential_access/cmd_dumping_ntds_dit_file_ntdsutil.no-vbox-sysmon10.json", "", "", ""},
		{"S12 PurpleSharp background", psexecBackground, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := lmOne(t, psexecRun(t, tt.file, NewWMIRemoteExecution()), tt.host != "")
			if a == nil {
				return
			}
			if got := psexecEntity(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST); got != tt.host {
				t.Errorf("host = %q, want %q", got, tt.host)
			}
			if got := psexecEntity(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); got != tt.actor {
				t.Errorf("actor = %q, want %q", got, tt.actor)
			}
			if got := psexecEntity(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST); got != tt.source {
				t.Errorf("source = %q, want %q", got, tt.source)
			}
			if a.GetMitreTechniques()[0] != "T1047" || a.GetDetector() != "wmi-remote-execution" {
				t.Errorf("alert fields: %v", a)
			}
		})
	}
}

// remoteSpawnEvent is a hand-written process start: no recording in shared/data holds a
// process started on the target through DCOM (the MMC20 / ShellWindows / Excel-allowed
// datasets were left out for size; the Excel one here was blocked).
func remoteSpawnEvent(s int, image, parent, parentCmd, user, logon string) *adjoinv1.Event {
	return &adjoinv1.Event{Channel: "Microsoft-Windows-Sysmon/Operational", EventId: 1, Host: "WS2.corp.example",
		Time:   timestamppb.New(time.Date(2024, 5, 1, 9, 0, s, 0, time.UTC)),
		Fields: map[string]string{"Image": image, "ParentImage": parent, "ParentCommandLine": parentCmd, "User": user, "LogonId": logon}}
}

func TestDCOMRemoteExecutionHandWritten(t *testing.T) {
	t.Parallel()
	logon := &adjoinv1.Event{Channel: "Security", EventId: 4624, Host: "WS2.corp.example", Time: timestamppb.New(time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)),
		Fields: map[string]string{"LogonType": "3", "TargetUserName": "bob", "TargetDomainName": "CORP", "TargetLogonId": "0x5a5a5", "IpAddress": "10.1.2.3"}}
	mmc := remoteSpawnEvent(1, `C:\Windows\System32\cmd.exe`, `C:\Windows\System32\mmc.exe`, `C:\Windows\system32\mmc.exe -Embedding`, `CORP\bob`, "0x5a5a5")
	mmcChild := remoteSpawnEvent(2, `C:\Windows\System32\whoami.exe`, `C:\Windows\System32\mmc.exe`, `C:\Windows\system32\mmc.exe -Embedding`, `CORP\bob`, "0x5a5a5")
	excel := remoteSpawnEvent(3, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE`,
		`"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE" /automation -Embedding`, `CORP\carol`, "0x77777")
	mshta := remoteSpawnEvent(5, `C:\Windows\System32\mshta.exe`, `C:\Windows\System32\svchost.exe`, `C:\Windows\system32\svchost.exe -k DcomLaunch -p`, `CORP\bob`, "0x5a5a5")
	mshta.Fields["CommandLine"] = `C:\Windows\System32\mshta.exe -Embedding`
	mmc4688 := &adjoinv1.Event{Channel: "Security", EventId: 4688, Host: "WS2.corp.example", Time: timestamppb.New(time.Date(2024, 5, 1, 9, 0, 6, 0, time.UTC)),
		Fields: map[string]string{"NewProcessName": `C:\Windows\System32\cmd.exe`, "ParentProcessName": `C:\Windows\System32\mmc.exe`,
			"SubjectLogonId": "0x5a5a5", "TargetLogonId": "0x0", "SubjectUserName": "bob", "SubjectDomainName": "CORP"}}
	mmc4688console := &adjoinv1.Event{Channel: "Security", EventId: 4688, Host: "WS2.corp.example", Time: timestamppb.New(time.Date(2024, 5, 1, 9, 0, 6, 0, time.UTC)),
		Fields: map[string]string{"NewProcessName": `C:\Windows\System32\cmd.exe`, "ParentProcessName": `C:\Windows\System32\mmc.exe`,
			"SubjectLogonId": "0x6b6b6", "TargetLogonId": "0x0", "SubjectUserName": "dave", "SubjectDomainName": "CORP"}}
	console := remoteSpawnEvent(4, `C:\Windows\System32\cmd.exe`, `C:\Windows\System32\mmc.exe`, `"C:\Windows\system32\mmc.exe" C:\Windows\system32\compmgmt.msc`, `CORP\dave`, "0x88888")
	tests := []struct {
		name   string
		events []*adjoinv1.Event
		want   int
	}{
		{"MMC20.Application: mmc -Embedding runs cmd and whoami in one network session", []*adjoinv1.Event{logon, mmc, mmcChild}, 1},
		{"the logon logged after the processes still joins", []*adjoinv1.Event{mmc, logon}, 1},
		{"Excel automation runs powershell", []*adjoinv1.Event{excel}, 1},
		{"an administrator's own MMC console", []*adjoinv1.Event{console}, 0},
		{"htafile DCOM object: mshta.exe -Embedding in a network session", []*adjoinv1.Event{logon, mshta}, 1},
		{"Security 4688 only: mmc.exe's child in the network session", []*adjoinv1.Event{logon, mmc4688}, 1},
		{"Security 4688 only: mmc.exe's child at the console", []*adjoinv1.Event{mmc4688console}, 0},
	}
	for _, tt := range tests {
		merged := lmRunEvents(NewDCOMRemoteExecution(), tt.events)
		if len(merged) != tt.want {
			t.Errorf("%s: %d alerts, want %d", tt.name, len(merged), tt.want)
			continue
		}
		if tt.want == 1 && (tt.events[0] == logon || tt.events[len(tt.events)-1] == logon) {
			a := merged[0]
			if psexecEntity(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST) != "10.1.2.3" ||
				psexecEntity(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR) != `corp\bob` ||
				a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH || a.GetMitreTechniques()[0] != "T1021.003" {
				t.Errorf("%s: alert %v", tt.name, a)
			}
		}
	}
}

func TestRemoteSpawnSessionBound(t *testing.T) {
	t.Parallel()
	d := NewWMIRemoteExecution()
	d.MaxSessions = 3
	for i := range 10 {
		d.Detect(remoteSpawnEvent(i, `C:\x\a.exe`, `C:\Windows\System32\wbem\WmiPrvSE.exe`, "", `CORP\bob`, "0x"+string(rune('a'+i))+"0000"))
	}
	if d.episodes.Len() != 3 {
		t.Fatalf("episodes = %d, want the bound 3", d.episodes.Len())
	}
}

// TestDCOMInboundHandWritten covers ShellWindows / ShellBrowserWindow, hand-written: their
// OTRF dataset (empire_dcom_shellwindows_stager) was left out of shared/data for size.
func TestDCOMInboundHandWritten(t *testing.T) {
	t.Parallel()
	conn := func(s int, initiated string) *adjoinv1.Event {
		return &adjoinv1.Event{Channel: "Microsoft-Windows-Sysmon/Operational", EventId: 3, Host: "WS2.corp.example",
			Time: timestamppb.New(time.Date(2024, 5, 1, 9, 0, s, 0, time.UTC)),
			Fields: map[string]string{"Image": `C:\Windows\explorer.exe`, "Initiated": initiated, "SourceIp": "10.0.0.9", "SourcePort": "50123",
				"DestinationIp": "10.0.0.20", "DestinationPort": "49700", "User": `CORP\alice`}}
	}
	child := func(s int, image string) *adjoinv1.Event {
		return remoteSpawnEvent(s, image, `C:\Windows\explorer.exe`, `C:\Windows\Explorer.EXE`, `CORP\alice`, "0x1111")
	}
	const ps = `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`
	tests := []struct {
		name   string
		events []*adjoinv1.Event
		want   int
	}{
		{"explorer.exe accepts a DCOM call, then starts powershell", []*adjoinv1.Event{conn(0, "false"), child(3, ps)}, 1},
		{"the user starts powershell from explorer", []*adjoinv1.Event{child(3, ps)}, 0},
		{"explorer.exe's own outbound connection", []*adjoinv1.Event{conn(0, "true"), child(3, ps)}, 0},
		{"explorer.exe starts notepad after a connection", []*adjoinv1.Event{conn(0, "false"), child(3, `C:\Windows\notepad.exe`)}, 0},
		{"one shell within the minute, another five minutes on: only the first", []*adjoinv1.Event{conn(0, "false"), remoteSpawnEvent(59, ps, `C:\Windows\explorer.exe`, "", `CORP\alice`, "0x1111"),
			{Channel: "Microsoft-Windows-Sysmon/Operational", EventId: 1, Host: "WS2.corp.example", Time: timestamppb.New(time.Date(2024, 5, 1, 9, 5, 0, 0, time.UTC)),
				Fields: map[string]string{"Image": ps, "ParentImage": `C:\Windows\explorer.exe`, "User": `CORP\alice`, "LogonId": "0x1111"}}}, 1},
	}
	for _, tt := range tests {
		got := lmRunEvents(NewDCOMRemoteExecution(), tt.events)
		if len(got) != tt.want {
			t.Errorf("%s: %d alerts, want %d", tt.name, len(got), tt.want)
			continue
		}
		if tt.want == 1 {
			a := got[0]
			if psexecEntity(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST) != "10.0.0.9" ||
				psexecEntity(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR) != "" || len(a.GetEvidence()) != 2 {
				t.Errorf("%s: alert %v", tt.name, a)
			}
		}
	}
}

func TestDCOMRemoteExecutionSilentOnRecordings(t *testing.T) {
	t.Parallel()
	// No recording holds DCOM execution on a target (the Excel one was blocked before anything
	// ran): all of them, the background included, are negative controls.
	for _, file := range lmAllRecordings(t) {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			lmOne(t, psexecRun(t, file, NewDCOMRemoteExecution()), false)
		})
	}
}

// TestWMIScrcons is hand-written: the remote ActiveScriptEventConsumer recording was left out
// of shared/data for size.
func TestWMIScrcons(t *testing.T) {
	t.Parallel()
	got := lmRunEvents(NewWMIRemoteExecution(), []*adjoinv1.Event{
		remoteSpawnEvent(0, `C:\Windows\System32\cmd.exe`, `C:\Windows\System32\wbem\scrcons.exe`, "", `NT AUTHORITY\SYSTEM`, "0x3e7"),
		remoteSpawnEvent(1, `C:\Windows\System32\werfault.exe`, `C:\Windows\System32\wbem\scrcons.exe`, "", `NT AUTHORITY\SYSTEM`, "0x3e7"),
	})
	if len(got) != 1 || len(got[0].GetEvidence()) != 1 {
		t.Fatalf("alerts: %v", got)
	}
}
