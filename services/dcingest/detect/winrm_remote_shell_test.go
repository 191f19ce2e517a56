package detect

import (
	"sort"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// The background playbook (S12) runs PurpleSharp's WinRM step from WORKSTATION5 as pgustavo:
// Sysmon 3 PurpleSharp.exe -> :5985 on WORKSTATION6, WORKSTATION7 and MORDORDC, and on each
// of them a 4624 type 3 Kerberos logon of pgustavo (IpAddress "-") followed by wsmprovhost.exe
// (Sysmon 1 and 4688) in that logon. The DC's 4769 for those sessions name the computer
// accounts (WORKSTATION6$, WORKSTATION7$, MORDORDC$), never HTTP/ or WSMAN/, so only the
// session sign fires there: one alert per target, source taken from the inbound Sysmon 3.
// The ground truth of this file is deliberately unwritten; these assertions are what the data
// shows, not a tuning target.
func TestWinRMRemoteShellBackgroundPlaybook(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("13 MB recording")
	}
	adjLogBackground(t, []detection.Detector{NewWinRMRemoteShell()})
	alerts := adjRun(t, []detection.Detector{NewWinRMRemoteShell()}, adjBackground)
	var hosts []string
	for _, a := range alerts {
		adjCheckCommon(t, a, "winrm-remote-shell")
		h := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)
		hosts = append(hosts, h.GetDnsHostName())
		u := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
		s := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST)
		// On MORDORDC the 4688 comes before the DC's late Sysmon 3 (5985 from 172.18.39.5): the
		// alert is raised without a source and raised again with it; detection.Merge keeps the
		// first alert's entities, so here the source shows only in the Sysmon 3 evidence.
		if u.GetSamAccountName() != "pgustavo" || u.GetSid() != "S-1-5-21-2323213074-4052461197-1785501644-1104" ||
			(s.GetIp() != "172.18.39.5" && !(s == nil && h.GetDnsHostName() == "MORDORDC.theshire.local")) {
			t.Errorf("%s: actor %v source %v", h.GetDnsHostName(), u, s)
		}
		if a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH || a.GetMitreTechniques()[0] != "T1021.006" ||
			a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT || adjEventIDs(a) != "1,3,4624,4688" {
			t.Errorf("%s: severity %v technique %v evidence %s", h.GetDnsHostName(), a.GetSeverity(), a.GetMitreTechniques(), adjEventIDs(a))
		}
	}
	sort.Strings(hosts)
	if got := len(hosts); got != 3 || hosts[0] != "MORDORDC.theshire.local" || hosts[1] != "WORKSTATION6.theshire.local" || hosts[2] != "WORKSTATION7.theshire.local" {
		t.Errorf("targets = %v, want MORDORDC, WORKSTATION6, WORKSTATION7", hosts)
	}
}

// S1–S13 contain no WinRM (no wsmprovhost.exe, no HTTP/ or WSMAN/ service ticket).
func TestWinRMRemoteShellSilentOnRecordings(t *testing.T) {
	t.Parallel()
	for _, file := range adjSampleFiles(t) {
		for _, a := range adjRun(t, []detection.Detector{NewWinRMRemoteShell()}, file) {
			t.Errorf("%s: unexpected alert %s", file, a.GetDescription())
		}
	}
}

// Hand-written 4769 with a WinRM SPN in ServiceName: no recording has one (see above).
func TestWinRMRemoteShellSPN(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2020, 10, 22, 8, 29, 54, 0, time.UTC)
	var rec int64
	tgs := func(after time.Duration, user, service, status string) *adjoinv1.Event {
		rec++
		return credAccessEvent(4769, "MORDORDC.theshire.local", t0.Add(after), rec, map[string]string{"TargetUserName": user,
			"TargetDomainName": "THESHIRE.LOCAL", "ServiceName": service, "IpAddress": "::ffff:172.18.39.5", "Status": status, "TicketEncryptionType": "0x12"})
	}
	ignoring := NewWinRMRemoteShell()
	ignoring.IgnoreHosts["intranet"] = true
	tests := []struct {
		name   string
		d      *WinRMRemoteShell
		events []*adjoinv1.Event
		want   int
		target string
	}{
		{"HTTP and WSMAN tickets for one host: one alert", NewWinRMRemoteShell(), []*adjoinv1.Event{
			tgs(0, "pgustavo@THESHIRE.LOCAL", "HTTP/workstation6.theshire.local", "0x0"),
			tgs(time.Second, "pgustavo@THESHIRE.LOCAL", "WSMAN/WORKSTATION6.theshire.local:5985", "0x0")}, 1, "workstation6.theshire.local"},
		{"computer account name (what Windows really writes)", NewWinRMRemoteShell(), []*adjoinv1.Event{tgs(0, "pgustavo@THESHIRE.LOCAL", "WORKSTATION6$", "0x0")}, 0, ""},
		{"machine requester", NewWinRMRemoteShell(), []*adjoinv1.Event{tgs(0, "WORKSTATION5$@THESHIRE.LOCAL", "HTTP/workstation6.theshire.local", "0x0")}, 0, ""},
		{"failed request", NewWinRMRemoteShell(), []*adjoinv1.Event{tgs(0, "pgustavo@THESHIRE.LOCAL", "HTTP/workstation6.theshire.local", "0x7")}, 0, ""},
		{"ignored web host", ignoring, []*adjoinv1.Event{tgs(0, "pgustavo@THESHIRE.LOCAL", "HTTP/intranet.theshire.local", "0x0")}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := adjRunEvents([]detection.Detector{tt.d}, tt.events)
			if len(alerts) != tt.want {
				t.Fatalf("%d alerts, want %d", len(alerts), tt.want)
			}
			if tt.want == 0 {
				return
			}
			a := alerts[0]
			adjCheckCommon(t, a, "winrm-remote-shell")
			u := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
			s := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST)
			h := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)
			if u.GetSamAccountName() != "pgustavo" || s.GetIp() != "172.18.39.5" || h.GetDnsHostName() != tt.target ||
				a.GetSeverity() != adjoinv1.Severity_SEVERITY_MEDIUM || len(a.GetEvidence()) != 2 {
				t.Errorf("actor %v source %v target %v severity %v evidence %d", u, s, h, a.GetSeverity(), len(a.GetEvidence()))
			}
		})
	}
}
