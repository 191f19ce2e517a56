package detect

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

const dcsrFile = "evtx-to-mitre-attack/ndjson/ID5136-Permission change on top root AD (DCsync).json"

// dcsrEvents returns the sample's events with edit applied to each 5136 (which may drop it by
// returning nil).
func dcsrEvents(t *testing.T, edit func(op string, f map[string]string) bool) []*adjoinv1.Event {
	t.Helper()
	var out []*adjoinv1.Event
	for _, ev := range sample.Events(t, dcsrFile) {
		if ev.GetEventId() == 5136 && edit != nil {
			ev = proto.Clone(ev).(*adjoinv1.Event)
			ev.Fields = maps.Clone(ev.GetFields())
			if !edit(ev.Fields["OperationType"], ev.Fields) {
				continue
			}
		}
		out = append(out, ev)
	}
	return out
}

func TestDCSyncRightsGranted(t *testing.T) {
	t.Parallel()
	const hack1 = "S-1-5-21-4230534742-2542757381-3142984815-1234"
	tests := []struct {
		name         string
		edit         func(op string, f map[string]string) bool
		wantGrantees []string
		wantEvidence string
	}{
		{
			name:         "CC0 SRVFS02$ grants hack1 Get-Changes and Get-Changes-All on DC=offsec,DC=lan: one alert for both 5136",
			wantGrantees: []string{hack1},
			wantEvidence: "5136,5136",
		},
		{
			// Only the new value: without the old one, the default holders (BA, ED, DD, -498) are
			// left out and hack1 remains.
			name:         "value-added event alone",
			edit:         func(op string, _ map[string]string) bool { return op == dcsrValueAdded },
			wantGrantees: []string{hack1},
			wantEvidence: "5136",
		},
		{
			name: "value-deleted event alone never alerts",
			edit: func(op string, _ map[string]string) bool { return op == dcsrValueDeleted },
		},
		{
			// The old descriptor, relabelled as an addition: only default holders, nothing granted.
			name: "the untouched default descriptor of the domain root grants nothing new",
			edit: func(op string, f map[string]string) bool {
				f["OperationType"] = dcsrValueAdded
				return op == dcsrValueDeleted
			},
		},
		{
			name: "the same change on an object below the root is not a DCSync grant",
			edit: func(_ string, f map[string]string) bool {
				f["ObjectDN"] = "CN=Users," + f["ObjectDN"]
				return true
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := NewDCSyncRightsGranted(NewSessions(100))
			var alerts []*adjoinv1.Alert
			for _, ev := range dcsrEvents(t, tt.edit) {
				alerts = append(alerts, d.Detect(ev)...)
			}
			alerts = detection.Merge(alerts)
			if len(tt.wantGrantees) == 0 {
				if len(alerts) != 0 {
					t.Fatalf("unexpected alerts: %v", alerts)
				}
				return
			}
			if len(alerts) != 1 {
				t.Fatalf("%d alerts, want 1: %v", len(alerts), alerts)
			}
			a := alerts[0]
			adjCheckCommon(t, a, "dcsync-rights-granted")
			if a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH || a.GetMitreTechniques()[0] != "T1098" ||
				a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE {
				t.Errorf("severity/technique/phase = %v %v %v", a.GetSeverity(), a.GetMitreTechniques(), a.GetKillChainPhase())
			}
			actor := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
			if actor.GetSamAccountName() != "srvfs02$" || actor.GetDomain() != "offsec" || actor.GetSid() != "S-1-5-21-4230534742-2542757381-3142984815-1235" {
				t.Errorf("actor = %v", actor)
			}
			var grantees []string
			for _, e := range a.GetEntities() {
				if e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_USER && e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_TARGET {
					grantees = append(grantees, e.GetSid())
				}
			}
			if !slices.Equal(grantees, tt.wantGrantees) {
				t.Errorf("grantees = %v, want %v", grantees, tt.wantGrantees)
			}
			if dc := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_TARGET); dc.GetDnsHostName() != "rootdc1.offsec.lan" {
				t.Errorf("dc = %v", dc)
			}
			if got := adjEventIDs(a); got != tt.wantEvidence {
				t.Errorf("evidence = %s, want %s", got, tt.wantEvidence)
			}
			for _, right := range []string{"DS-Replication-Get-Changes,", "DS-Replication-Get-Changes-All"} {
				if !strings.Contains(a.GetDescription(), right) {
					t.Errorf("description %q lacks %s", a.GetDescription(), right)
				}
			}
		})
	}
}

func TestDCSyncRightsGrantedSilentElsewhere(t *testing.T) {
	t.Parallel()
	for _, file := range adjSampleFiles(t, dcsrFile) {
		s := NewSessions(1000)
		for _, a := range adjRun(t, []detection.Detector{s, NewDCSyncRightsGranted(s)}, file) {
			t.Errorf("%s: unexpected alert %s", file, a.GetDescription())
		}
	}
}

func TestDCSyncRightsGrantedBackgroundPlaybook(t *testing.T) {
	t.Parallel()
	s := NewSessions(1000)
	adjLogBackground(t, []detection.Detector{s, NewDCSyncRightsGranted(s)})
}

func TestDCSyncRightsGrantedPowerView(t *testing.T) {
	t.Parallel()
	// PowerView Add-DomainObjectAcl -Rights DCSync for nmartha (…-1103) by pgustavo: three LDAP
	// operations (one per right, each a value-deleted/value-added 5136 pair) in one logon
	// session are one grant, so one alert.
	const file = "otrf/more/defense_evasion/empire_powerview_ldap_ntsecuritydescriptor_2020-09-21130944.sec-sys-sysmon.json"
	s := NewSessions(1000)
	alerts := adjRun(t, []detection.Detector{s, NewDCSyncRightsGranted(s)}, file)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1: %v", len(alerts), alerts)
	}
	a := alerts[0]
	adjCheckCommon(t, a, "dcsync-rights-granted")
	actor := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
	grantee := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_TARGET)
	if actor.GetSamAccountName() != "pgustavo" || grantee.GetSid() != "S-1-5-21-4228717743-1032521047-1810997296-1103" {
		t.Errorf("actor %v, grantee %v", actor, grantee)
	}
	if got := adjEventIDs(a); got != "5136,5136,5136,5136,5136,5136" {
		t.Errorf("evidence = %s, want the three pairs", got)
	}
}
