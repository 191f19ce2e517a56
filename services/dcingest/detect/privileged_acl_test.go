package detect

import (
	"maps"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

const paclPowerView = "otrf/more/defense_evasion/empire_powerview_ldap_ntsecuritydescriptor_2020-09-21130944.sec-sys-sysmon.json"

// paclEvents returns the PowerView recording (three 5136 pairs on DC=theshire,DC=local, each
// adding one replication right for nmartha, …-1103) with edit applied to each 5136.
func paclEvents(t *testing.T, edit func(f map[string]string)) []*adjoinv1.Event {
	t.Helper()
	var out []*adjoinv1.Event
	for _, ev := range sample.Events(t, paclPowerView) {
		if ev.GetEventId() == 5136 && edit != nil {
			ev = proto.Clone(ev).(*adjoinv1.Event)
			ev.Fields = maps.Clone(ev.GetFields())
			edit(ev.Fields)
		}
		out = append(out, ev)
	}
	return out
}

func TestPrivilegedACLChange(t *testing.T) {
	t.Parallel()
	const nmartha = "S-1-5-21-4228717743-1032521047-1810997296-1103"
	// No recording changes AdminSDHolder or gives WriteDacl on the root: the PowerView events
	// are edited so that the ACE the first operation adds for nmartha gives that instead.
	grant := func(dn, ace string) func(f map[string]string) {
		return func(f map[string]string) {
			f["ObjectDN"] = dn
			if f["OpCorrelationID"] == "{3cfd9da4-ad02-4d49-9c46-c2f97a5a5cc7}" && f["OperationType"] == dcsrValueAdded {
				f["AttributeValue"] = strings.Replace(f["AttributeValue"], "(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;"+nmartha+")", ace, 1)
			}
		}
	}
	tests := []struct {
		name   string
		edit   func(f map[string]string)
		phase  adjoinv1.KillChainPhase
		rights string
	}{
		{"GenericAll on AdminSDHolder", grant("CN=AdminSDHolder,CN=System,DC=theshire,DC=local", "(A;;GA;;;"+nmartha+")"),
			adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PERSISTENCE, "GenericAll"},
		{"member write on AdminSDHolder, hex mask", grant("CN=AdminSDHolder,CN=System,DC=theshire,DC=local", "(OA;;0x20;bf9679c0-0de6-11d0-a285-00aa003049e2;;"+nmartha+")"),
			adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PERSISTENCE, "WriteProperty(member)"},
		{"WriteDacl on the domain root", grant("DC=theshire,DC=local", "(A;;WD;;;"+nmartha+")"),
			adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE, "WriteDacl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewSessions(1000)
			alerts := adjRunEvents([]detection.Detector{s, NewPrivilegedACLChange(s)}, paclEvents(t, tt.edit))
			if len(alerts) != 1 {
				t.Fatalf("%d alerts, want 1: %v", len(alerts), alerts)
			}
			a := alerts[0]
			grantee := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_TARGET)
			actor := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
			if a.GetDetector() != "privileged-acl-change" || a.GetKillChainPhase() != tt.phase || a.GetMitreTechniques()[0] != "T1098" ||
				grantee.GetSid() != nmartha || actor.GetSamAccountName() != "pgustavo" || !strings.Contains(a.GetDescription(), tt.rights) {
				t.Errorf("alert: %v", a)
			}
			if got := adjEventIDs(a); got != "5136" {
				t.Errorf("evidence = %s, want the one 5136 that granted", got)
			}
		})
	}
}

func TestPrivilegedACLChangeQuiet(t *testing.T) {
	t.Parallel()
	// PowerView -Rights DCSync and SRVFS02$'s DCSync grant: replication rights only, which are
	// dcsync-rights-granted's; the DCSync, SAMR and background recordings change no DACL.
	for _, file := range []string{paclPowerView, dcsrFile, reconBackground,
		"evtx-to-mitre-attack/ndjson/ID4662-DCsync attack using Mimikatz.json"} {
		s := NewSessions(1000)
		for _, a := range adjRun(t, []detection.Detector{s, NewPrivilegedACLChange(s)}, file) {
			t.Errorf("%s: unexpected alert %s", file, a.GetDescription())
		}
	}
	// The same DCSync grant on AdminSDHolder gives no control either.
	s := NewSessions(1000)
	events := paclEvents(t, func(f map[string]string) { f["ObjectDN"] = "CN=AdminSDHolder,CN=System,DC=theshire,DC=local" })
	for _, a := range adjRunEvents([]detection.Detector{s, NewPrivilegedACLChange(s)}, events) {
		t.Errorf("unexpected alert %s", a.GetDescription())
	}
}

func TestPrivilegedACLChangePendingBound(t *testing.T) {
	t.Parallel()
	// With room for one old value, the first operation's old value is forgotten once the second
	// and third arrive: its new value is then judged alone (default holders left out), and
	// nmartha's WriteDacl still shows. The value-deleted events are moved first to force it.
	const nmartha = "S-1-5-21-4228717743-1032521047-1810997296-1103"
	events := paclEvents(t, func(f map[string]string) {
		if f["OpCorrelationID"] == "{3cfd9da4-ad02-4d49-9c46-c2f97a5a5cc7}" && f["OperationType"] == dcsrValueAdded {
			f["AttributeValue"] = strings.Replace(f["AttributeValue"], "(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;"+nmartha+")", "(A;;WD;;;"+nmartha+")", 1)
		}
	})
	var deleted, rest []*adjoinv1.Event
	for _, ev := range events {
		if ev.GetEventId() == 5136 && ev.GetFields()["OperationType"] == dcsrValueDeleted {
			deleted = append(deleted, ev)
		} else {
			rest = append(rest, ev)
		}
	}
	d := NewPrivilegedACLChange(nil)
	d.MaxPending = 1
	alerts := adjRunEvents([]detection.Detector{d}, append(deleted, rest...))
	if len(alerts) != 1 || d.pending.Len() != 1 {
		t.Fatalf("%d alerts (want 1), %d old values held (want 1)", len(alerts), d.pending.Len())
	}
	if !strings.Contains(alerts[0].GetDescription(), "WriteDacl") {
		t.Errorf("description %q lacks WriteDacl", alerts[0].GetDescription())
	}
}
