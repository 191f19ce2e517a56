package detect

import (
	"encoding/json"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
)

// grpEvent writes a Security event in the shape of our EVTX→NDJSON conversion and parses it
// like a real line. None of the recordings holds a 4728/4732/4756 (checked over every file in
// shared/data), so these events are hand-written, with the fields Windows logs for them.
func grpEvent(t *testing.T, id int, record int, fields map[string]string) *adjoinv1.Event {
	t.Helper()
	obj := map[string]any{
		"EventID": id, "Channel": "Security", "Computer": "rootdc1.offsec.lan", "EventRecordID": record,
		"TimeCreated": "2021-12-20T10:00:00.000000Z", "ProviderName": "Microsoft-Windows-Security-Auditing",
	}
	for k, v := range fields {
		obj[k] = v
	}
	line, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := intake.ParseWindows(line, "")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func grpAddition(t *testing.T, id int, group, groupSID string) *adjoinv1.Event {
	t.Helper()
	return grpEvent(t, id, 1000+id, map[string]string{
		"MemberName": "CN=hack1,CN=Users,DC=offsec,DC=lan", "MemberSid": "S-1-5-21-4230534742-2542757381-3142984815-1234",
		"TargetUserName": group, "TargetDomainName": "OFFSEC", "TargetSid": groupSID,
		"SubjectUserSid": "S-1-5-21-4230534742-2542757381-3142984815-1111", "SubjectUserName": "admmig",
		"SubjectDomainName": "OFFSEC", "SubjectLogonId": "0x00000000024db5849", "PrivilegeList": "-",
	})
}

func TestPrivilegedGroupAddition(t *testing.T) {
	t.Parallel()
	logon := func(t *testing.T) *adjoinv1.Event {
		return grpEvent(t, 4624, 999, map[string]string{
			"TargetUserName": "admmig", "TargetDomainName": "OFFSEC", "TargetUserSid": "S-1-5-21-4230534742-2542757381-3142984815-1111",
			"TargetLogonId": "0x00000000024db5849", "LogonType": "3", "IpAddress": "10.23.23.9", "AuthenticationPackageName": "Kerberos",
		})
	}
	tests := []struct {
		name      string
		id        int
		group     string
		groupSID  string
		wantPhase adjoinv1.KillChainPhase // UNSPECIFIED: no alert
	}{
		{"4728 Domain Admins", 4728, "Domain Admins", "S-1-5-21-4230534742-2542757381-3142984815-512", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE},
		{"4756 Enterprise Admins", 4756, "Enterprise Admins", "S-1-5-21-4230534742-2542757381-3142984815-519", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE},
		{"4756 Schema Admins", 4756, "Schema Admins", "S-1-5-21-4230534742-2542757381-3142984815-518", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE},
		{"4732 builtin Administrators", 4732, "Administrators", "S-1-5-32-544", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PRIVILEGE_ESCALATION},
		{"4732 Account Operators", 4732, "Account Operators", "S-1-5-32-548", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PRIVILEGE_ESCALATION},
		{"4732 renamed Backup Operators, by RID", 4732, "Sauvegarde", "S-1-5-32-551", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PRIVILEGE_ESCALATION},
		{"4732 Backup Operators without a SID, by name", 4732, "Backup Operators", "-", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PRIVILEGE_ESCALATION},
		{"4728 Domain Users is not privileged", 4728, "Domain Users", "S-1-5-21-4230534742-2542757381-3142984815-513", 0},
		{"4732 a local group with a privileged RID outside a domain or BUILTIN", 4732, "Odd", "S-1-5-80-512", 0},
		{"4729 removal from Domain Admins", 4729, "Domain Admins", "S-1-5-21-4230534742-2542757381-3142984815-512", 0},
		{"4733 removal from Administrators", 4733, "Administrators", "S-1-5-32-544", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewSessions(10)
			ds := []detection.Detector{s, NewPrivilegedGroupAddition(s, nil)}
			events := []*adjoinv1.Event{logon(t), grpAddition(t, tt.id, tt.group, tt.groupSID)}
			alerts := adjRunEvents(ds, events)
			if tt.wantPhase == 0 {
				if len(alerts) != 0 {
					t.Fatalf("unexpected alerts: %v", alerts)
				}
				return
			}
			if len(alerts) != 1 {
				t.Fatalf("%d alerts, want 1", len(alerts))
			}
			a := alerts[0]
			adjCheckCommon(t, a, "privileged-group-addition")
			if a.GetKillChainPhase() != tt.wantPhase || a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH || a.GetMitreTechniques()[0] != "T1098" {
				t.Errorf("phase/severity/technique = %v %v %v", a.GetKillChainPhase(), a.GetSeverity(), a.GetMitreTechniques())
			}
			actor := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
			member := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_TARGET)
			src := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST)
			dc := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_TARGET)
			if actor.GetSamAccountName() != "admmig" || actor.GetDomain() != "offsec" ||
				member.GetSid() != "S-1-5-21-4230534742-2542757381-3142984815-1234" || src.GetIp() != "10.23.23.9" ||
				dc.GetDnsHostName() != "rootdc1.offsec.lan" {
				t.Errorf("entities = %v", a.GetEntities())
			}
			// A replay gives the same alert id.
			again := adjRunEvents([]detection.Detector{NewPrivilegedGroupAddition(nil, nil)}, events)
			if len(again) != 1 || again[0].GetId() != a.GetId() {
				t.Errorf("replay id differs: %v", again)
			}
		})
	}
}

func TestPrivilegedGroupAdditionSilentElsewhere(t *testing.T) {
	t.Parallel()
	for _, file := range adjSampleFiles(t) {
		s := NewSessions(1000)
		for _, a := range adjRun(t, []detection.Detector{s, NewPrivilegedGroupAddition(s, nil)}, file) {
			t.Errorf("%s: unexpected alert %s", file, a.GetDescription())
		}
	}
}

func TestPrivilegedGroupAdditionBackgroundPlaybook(t *testing.T) {
	t.Parallel()
	s := NewSessions(1000)
	adjLogBackground(t, []detection.Detector{s, NewPrivilegedGroupAddition(s, nil)})
}
