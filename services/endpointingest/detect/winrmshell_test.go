package detect

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// winrmNegatives are the recordings without WinRM (S1–S11 and the CC0 endpoint samples).
var winrmNegatives = []string{
	"otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json",
	"otrf/host/empire_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-09-21185829.sec-sys-sysmon.json",
	"otrf/host/empire_shell_rubeus_asktgt_ptt_2020-09-21223848.sec-sys-sysmon.json",
	"otrf/host/empire_over_pth_patch_lsass_2020-09-21221336.sec-sys-sysmon.json",
	"otrf/host/empire_psexec_dcerpc_tcp_svcctl_2020-09-20121608.sec-sys-sysmon.json",
	"otrf/host/covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.json",
	"otrf/host/empire_shell_samr_EnumDomainUsers_2020-09-21193527.sec-sys-sysmon.json",
	"otrf/host/covenant_getdomaingroup_ldap_searchrequest_domain_admins_2020-09-22141005.json",
	"otrf/host/psh_lsass_memory_dump_comsvcs_2020-10-18T19500924.json",
	"otrf/host/cmd_lsass_memory_dumpert_syscalls_2020-10-1822561997.json",
	"otrf/host/cmd_psexec_lsa_secrets_dump_2020-10-1903305471.json",
	"evtx-to-mitre-attack/ndjson/ID4624-Mimikatz Pass the hash.json",
	"evtx-to-mitre-attack/ndjson/ID11,13,17,18-PSexec as system execution.json",
}

func TestWinRMShellEndpointSilentOnRecordings(t *testing.T) {
	t.Parallel()
	for _, file := range winrmNegatives {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			for _, a := range psexecRun(t, file, NewWinRMShellEndpoint()) {
				t.Errorf("unexpected alert: %s", a.GetDescription())
			}
		})
	}
}

// The S12 background recording has no written ground truth; what it shows is PurpleSharp
// opening PowerShell remoting sessions as pgustavo on WORKSTATION6, WORKSTATION7 and MORDORDC
// (wsmprovhost.exe -Embedding, then powershell.exe and conhost.exe in the same session, after a
// Kerberos type 3 logon whose IpAddress is "-"). The test asserts exactly that.
func TestWinRMShellEndpointBackgroundPlaybook(t *testing.T) {
	if testing.Short() {
		t.Skip("13 MB recording")
	}
	t.Parallel()
	alerts := psexecRun(t, psexecBackground, NewWinRMShellEndpoint())
	want := map[string]string{ // host -> session
		"workstation6.theshire.local": "0x8fc6d5",
		"workstation7.theshire.local": "0x9b1ad0",
		"mordordc.theshire.local":     "0x2125fe4",
	}
	if len(alerts) != len(want) {
		for _, a := range alerts {
			t.Logf("alert: %s", a.GetDescription())
		}
		t.Fatalf("%d alerts, want %d", len(alerts), len(want))
	}
	for _, a := range alerts {
		t.Logf("background alert: %s (%d evidence)", a.GetDescription(), len(a.GetEvidence()))
		host := psexecEntity(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)
		session, ok := want[host]
		if !ok {
			t.Errorf("alert on unexpected host %q", host)
			continue
		}
		delete(want, host)
		if !strings.Contains(a.GetDescription(), session) {
			t.Errorf("%s: description %q does not name session %s", host, a.GetDescription(), session)
		}
		var sid, users []string
		for _, e := range a.GetEntities() {
			if e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_USER && e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_ACTOR {
				users = append(users, e.GetSamAccountName())
				if e.GetSid() != "" {
					sid = append(sid, e.GetSid())
				}
			}
		}
		for _, u := range users {
			if u != "pgustavo" {
				t.Errorf("%s: actor %q, want pgustavo", host, u)
			}
		}
		if len(sid) != 1 || sid[0] != "S-1-5-21-2323213074-4052461197-1785501644-1104" {
			t.Errorf("%s: actor SID from the 4624 = %v", host, sid)
		}
		sums := psexecSummaries(a)
		for _, w := range []string{"-> wsmprovhost.exe", "wsmprovhost.exe -> powershell.exe", "4624 type 3 Kerberos", "powershell.exe -> conhost.exe"} {
			if !strings.Contains(sums, w) {
				t.Errorf("%s: evidence lacks %q:\n%s", host, w, sums)
			}
		}
		if a.GetMitreTechniques()[0] != "T1021.006" || a.GetSeverity() != adjoinv1.Severity_SEVERITY_MEDIUM ||
			a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT {
			t.Errorf("alert fields: %v", a)
		}
	}
}

// TestWinRMShellEndpointWinrs is hand-written: no recording holds winrs (winrshost.exe).
func TestWinRMShellEndpointWinrs(t *testing.T) {
	t.Parallel()
	at := func(s int) *timestamppb.Timestamp {
		return timestamppb.New(time.Date(2024, 5, 1, 12, 0, s, 0, time.UTC))
	}
	merged := lmRunEvents(NewWinRMShellEndpoint(), []*adjoinv1.Event{
		{Channel: "Security", EventId: 4624, Host: "WS6.corp.example", Time: at(0),
			Fields: map[string]string{"LogonType": "3", "TargetUserName": "eve", "TargetDomainName": "CORP", "TargetLogonId": "0x5555", "IpAddress": "10.0.0.9"}},
		{Channel: "Microsoft-Windows-Sysmon/Operational", EventId: 1, Host: "WS6.corp.example", Time: at(1),
			Fields: map[string]string{"Image": `C:\Windows\System32\winrshost.exe`, "ParentImage": `C:\Windows\System32\svchost.exe`, "LogonId": "0x5555", "User": `CORP\eve`}},
		{Channel: "Microsoft-Windows-Sysmon/Operational", EventId: 1, Host: "WS6.corp.example", Time: at(2),
			Fields: map[string]string{"Image": `C:\Windows\System32\cmd.exe`, "ParentImage": `C:\Windows\System32\winrshost.exe`, "LogonId": "0x5555", "User": `CORP\eve`}},
	})
	if len(merged) != 1 || psexecEntity(merged[0], adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST) != "10.0.0.9" {
		t.Fatalf("alerts: %v", merged)
	}
	if !strings.Contains(merged[0].GetDescription(), "winrshost.exe") {
		t.Errorf("description %q", merged[0].GetDescription())
	}
}
