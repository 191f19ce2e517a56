package detect

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestPassTheHashOnRecordings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		file       string
		wantActor  string // DOMAIN\sam of the caller
		wantAbused string // domain\sam of the outbound identity, "" when the event has none
		wantHost   string
		wantSev    adjoinv1.Severity
	}{
		{
			name:      "S4 sekurlsa::pth: wardog's session on WORKSTATION6 carries pgustavo's hash",
			file:      "otrf/host/empire_over_pth_patch_lsass_2020-09-21221336.sec-sys-sysmon.json",
			wantActor: `theshire\wardog`, wantAbused: `theshire.local\pgustavo`, wantHost: "WORKSTATION6.theshire.local",
			// The recording holds no authentication of pgustavo from WORKSTATION6 afterwards:
			// medium until the credentials are seen in use.
			wantSev: adjoinv1.Severity_SEVERITY_MEDIUM,
		},
		{
			name:      "CC0 mimikatz pth by admmig on FS03: 4624 v1 names no outbound account",
			file:      "evtx-to-mitre-attack/ndjson/ID4624-Mimikatz Pass the hash.json",
			wantActor: `offsec\admmig`, wantHost: "FS03.offsec.lan",
			wantSev: adjoinv1.Severity_SEVERITY_MEDIUM,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := adjRun(t, []detection.Detector{NewPassTheHash()}, tt.file)
			if len(alerts) != 1 {
				t.Fatalf("%d alerts, want 1: %v", len(alerts), alerts)
			}
			a := alerts[0]
			adjCheckCommon(t, a, "pass-the-hash")
			if a.GetSeverity() != tt.wantSev || a.GetMitreTechniques()[0] != "T1550.002" ||
				a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT {
				t.Errorf("severity/technique/phase = %v %v %v", a.GetSeverity(), a.GetMitreTechniques(), a.GetKillChainPhase())
			}
			actor := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
			if got := actor.GetDomain() + `\` + actor.GetSamAccountName(); got != tt.wantActor || actor.GetSid() == "" {
				t.Errorf("actor = %v, want %s with a SID", actor, tt.wantActor)
			}
			abused := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_TARGET)
			if got := abused.GetDomain() + `\` + abused.GetSamAccountName(); (abused != nil || tt.wantAbused != "") && got != tt.wantAbused {
				t.Errorf("abused identity = %v, want %q", abused, tt.wantAbused)
			}
			h := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)
			if h.GetDnsHostName() != tt.wantHost {
				t.Errorf("host = %v, want %s", h, tt.wantHost)
			}
			if tt.wantAbused != "" && !strings.Contains(a.GetDescription(), "pgustavo") {
				t.Errorf("description does not name the abused identity: %s", a.GetDescription())
			}
			if adjEventIDs(a) != "4624" {
				t.Errorf("evidence = %s", adjEventIDs(a))
			}
		})
	}
}

func TestPassTheHashSilentElsewhere(t *testing.T) {
	t.Parallel()
	for _, file := range adjSampleFiles(t,
		"otrf/host/empire_over_pth_patch_lsass_2020-09-21221336.sec-sys-sysmon.json",
		"evtx-to-mitre-attack/ndjson/ID4624-Mimikatz Pass the hash.json",
	) {
		for _, a := range adjRun(t, []detection.Detector{NewPassTheHash()}, file) {
			t.Errorf("%s: unexpected alert %s", file, a.GetDescription())
		}
	}
}

func TestPassTheHashBackgroundPlaybook(t *testing.T) {
	t.Parallel()
	adjLogBackground(t, []detection.Detector{NewPassTheHash()})
}

// No recording holds runas /netonly, a UAC or token trick, or a pass-the-hash session whose
// hash then reaches a DC: hand-written events with the fields Windows writes.
func TestPassTheHashNeedsNetworkUse(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	logon := func(outbound, logonID string) *adjoinv1.Event {
		return credAccessEvent(4624, "WS1.corp.example", at, 1, map[string]string{"LogonType": "9", "LogonProcessName": "seclogo",
			"AuthenticationPackageName": "Negotiate", "SubjectUserName": "alice", "SubjectDomainName": "CORP", "SubjectUserSid": "S-1-5-21-1-2-3-1105",
			"TargetUserName": "alice", "TargetDomainName": "CORP", "TargetLogonId": logonID, "TargetOutboundUserName": outbound, "TargetOutboundDomainName": "corp.example"})
	}
	ntlm := func(user, workstation string, after time.Duration) *adjoinv1.Event {
		return credAccessEvent(4776, "DC1.corp.example", at.Add(after), 2, map[string]string{"TargetUserName": user, "Workstation": workstation,
			"Status": "0x0", "PackageName": "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"})
	}
	tests := []struct {
		name   string
		events []*adjoinv1.Event
		want   []adjoinv1.Severity // of each emission
	}{
		{"another account's hash, unused", []*adjoinv1.Event{logon("admin", "0x10")}, []adjoinv1.Severity{adjoinv1.Severity_SEVERITY_MEDIUM}},
		{"the caller's own credentials (runas /netonly as oneself, token trick)", []*adjoinv1.Event{logon("alice", "0x10")}, []adjoinv1.Severity{adjoinv1.Severity_SEVERITY_LOW}},
		{"used from the host", []*adjoinv1.Event{logon("admin", "0x10"), ntlm("CORP\\admin", "WS1", time.Minute), ntlm("admin", "WS1", 2*time.Minute)},
			[]adjoinv1.Severity{adjoinv1.Severity_SEVERITY_MEDIUM, adjoinv1.Severity_SEVERITY_HIGH}},
		{"used from another host", []*adjoinv1.Event{logon("admin", "0x10"), ntlm("admin", "WS2", time.Minute)}, []adjoinv1.Severity{adjoinv1.Severity_SEVERITY_MEDIUM}},
		{"used after the window", []*adjoinv1.Event{logon("admin", "0x10"), ntlm("admin", "WS1", time.Hour)}, []adjoinv1.Severity{adjoinv1.Severity_SEVERITY_MEDIUM}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := NewPassTheHash()
			var got []adjoinv1.Severity
			var ids []string
			for _, ev := range tt.events {
				for _, a := range d.Detect(ev) {
					got, ids = append(got, a.GetSeverity()), append(ids, a.GetId())
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("severities = %v, want %v", got, tt.want)
			}
			if len(ids) == 2 && ids[0] != ids[1] {
				t.Errorf("the use raised a new alert, not the session's: %v", ids)
			}
		})
	}
	d := NewPassTheHash()
	d.MaxSessions = 2
	for i := range 5 {
		d.Detect(logon(fmt.Sprintf("admin%d", i), fmt.Sprintf("0x%x", 10+i)))
	}
	if n := d.waiting.Len(); n != 2 {
		t.Errorf("waiting sessions = %d, want the bound 2", n)
	}
	if got := d.Detect(ntlm("admin0", "WS1", time.Minute)); len(got) != 0 {
		t.Errorf("a forgotten session was raised: %v", got)
	}
}
