package detect

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

const (
	tfshS2 = "otrf/host/empire_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-09-21185829.sec-sys-sysmon.json"
	tfshS3 = "otrf/host/empire_shell_rubeus_asktgt_ptt_2020-09-21223848.sec-sys-sysmon.json"
	tfshS7 = "otrf/host/empire_shell_samr_EnumDomainUsers_2020-09-21193527.sec-sys-sysmon.json"
)

// tfshPick returns a clone of the first event of a recording with the id, optionally moved
// to another time.
func tfshPick(t *testing.T, file string, id int32, at time.Time) *adjoinv1.Event {
	t.Helper()
	for _, ev := range sample.Events(t, file) {
		if ev.GetEventId() == id && detection.IsSecurity(ev) {
			ev = proto.Clone(ev).(*adjoinv1.Event)
			if !at.IsZero() {
				ev.Time = timestamppb.New(at)
			}
			return ev
		}
	}
	t.Fatalf("%s: no %d", file, id)
	return nil
}

// The recordings hold no pass-the-ticket: S3's Rubeus /ptt TGT for pgustavo (4768 from
// 172.18.39.6) is the only 4768 in the Shire files, S3 has no 4769, and the 4769 for pgustavo
// from 172.18.39.5 in S2/S7 (and S1, S5, S8, S12) come hours before that TGT, from a lab
// rebuilt in between. The CC0 files pair 4768 and 4769 only from one address (noPac: rootdc1
// from 10.23.123.11). So the detector must stay silent on all of them, even replayed together
// in time order.
func TestTicketFromSecondHostSilentOnRecordings(t *testing.T) {
	t.Parallel()
	for _, file := range adjSampleFiles(t) {
		for _, a := range adjRun(t, []detection.Detector{NewTicketFromSecondHost()}, file) {
			t.Errorf("%s: unexpected alert %s", file, a.GetDescription())
		}
	}
	for _, order := range [][]string{{tfshS2, tfshS7, tfshS3}, {tfshS3, tfshS2, tfshS7}} {
		if alerts := adjRun(t, []detection.Detector{NewTicketFromSecondHost()}, order...); len(alerts) != 0 {
			t.Errorf("%v: %d alerts, want 0 (every 4769 precedes the TGT)", order, len(alerts))
		}
	}
}

// No recording shows a travelled ticket, so the positives are built from real events moved in
// time: S3's real Rubeus TGT for pgustavo to WORKSTATION6 (172.18.39.6), then S7's and S2's
// real 4769 of pgustavo from WORKSTATION5 (172.18.39.5) placed after it, as if the ticket had
// been exported and imported there.
func TestTicketFromSecondHost(t *testing.T) {
	t.Parallel()
	tgt := tfshPick(t, tfshS3, 4768, time.Time{})
	t0 := tgt.GetTime().AsTime()
	tgs := func(file string, after time.Duration) *adjoinv1.Event { return tfshPick(t, file, 4769, t0.Add(after)) }
	ownTGT := proto.Clone(tgt).(*adjoinv1.Event)
	ownTGT.Fields["IpAddress"] = "::ffff:172.18.39.5"
	ownTGT.Time = timestamppb.New(t0.Add(30 * time.Second))
	machine := tgs(tfshS7, time.Minute)
	machine.Fields["TargetUserName"] = "WORKSTATION6$@THESHIRE.LOCAL"
	machineTGT := proto.Clone(tgt).(*adjoinv1.Event)
	machineTGT.Fields["TargetUserName"] = "WORKSTATION6$"
	loopback := tgs(tfshS7, time.Minute)
	loopback.Fields["IpAddress"] = "::1"
	failed := tgs(tfshS7, time.Minute)
	failed.Fields["Status"] = "0x1f"
	tests := []struct {
		name      string
		events    []*adjoinv1.Event
		want      int
		wantEvids int
	}{
		{"TGT at WORKSTATION6, two service tickets from WORKSTATION5: one alert", []*adjoinv1.Event{tgt, tgs(tfshS7, time.Minute), tgs(tfshS2, 2*time.Hour)}, 1, 3},
		{"WORKSTATION5 obtained its own TGT", []*adjoinv1.Event{tgt, ownTGT, tgs(tfshS7, time.Minute)}, 0, 0},
		{"service ticket after the ticket lifetime", []*adjoinv1.Event{tgt, tgs(tfshS7, 11*time.Hour)}, 0, 0},
		{"service ticket before the TGT", []*adjoinv1.Event{tgs(tfshS7, -time.Minute), tgt}, 0, 0},
		{"machine account", []*adjoinv1.Event{machineTGT, machine}, 0, 0},
		{"loopback", []*adjoinv1.Event{tgt, loopback}, 0, 0},
		{"failed request", []*adjoinv1.Event{tgt, failed}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := adjRunEvents([]detection.Detector{NewTicketFromSecondHost()}, tt.events)
			if len(alerts) != tt.want {
				t.Fatalf("%d alerts, want %d", len(alerts), tt.want)
			}
			if tt.want == 0 {
				return
			}
			a := alerts[0]
			adjCheckCommon(t, a, "ticket-from-second-host")
			if a.GetMitreTechniques()[0] != "T1550.003" || a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT ||
				a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH {
				t.Errorf("technique/phase/severity = %v %v %v", a.GetMitreTechniques(), a.GetKillChainPhase(), a.GetSeverity())
			}
			if u := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); u.GetSamAccountName() != "pgustavo" {
				t.Errorf("actor = %v", u)
			}
			if s := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST); s.GetIp() != "172.18.39.5" {
				t.Errorf("source = %v", s)
			}
			var origin, dc bool
			for _, e := range a.GetEntities() {
				origin = origin || (e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_TARGET && e.GetIp() == "172.18.39.6")
				dc = dc || (e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_TARGET && e.GetDnsHostName() == "MORDORDC.theshire.local")
			}
			if !origin || !dc {
				t.Errorf("want targets 172.18.39.6 and MORDORDC: %v", a.GetEntities())
			}
			if len(a.GetEvidence()) != tt.wantEvids || adjEventIDs(a)[:4] != "4768" {
				t.Errorf("evidence = %s", adjEventIDs(a))
			}
		})
	}
}

func TestTicketFromSecondHostBackgroundPlaybook(t *testing.T) {
	t.Parallel()
	adjLogBackground(t, []detection.Detector{NewTicketFromSecondHost()})
}
