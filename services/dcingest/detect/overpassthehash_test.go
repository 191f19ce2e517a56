package detect

import (
	"maps"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

const (
	opthS2      = "otrf/host/empire_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-09-21185829.sec-sys-sysmon.json"
	opthS3      = "otrf/host/empire_shell_rubeus_asktgt_ptt_2020-09-21223848.sec-sys-sysmon.json"
	opthKerbrut = "evtx-to-mitre-attack/ndjson/ID4768-4771-Kerberos user enumeration (Kerbrute).json"
	opthASREP   = "evtx-to-mitre-attack/ndjson/ID4768-Kerberos AS-REP Roasting.json"
)

func TestOverpassTheHashOnRecordings(t *testing.T) {
	t.Parallel()
	// S3's file holds a single 4768 (the Rubeus one) and no other ticket, so on its own it
	// cannot show that theshire.local uses AES. Replayed after S2 — the same lab domain three
	// and a half hours earlier, where MORDORDC issued pgustavo an AES (0x12) service ticket —
	// it does, as a continuously running detector would have learnt.
	tests := []struct {
		name      string
		files     []string
		wantCount int
		wantSev   adjoinv1.Severity
	}{
		{name: "S3 Rubeus asktgt /rc4 for pgustavo after S2 showed AES", files: []string{opthS2, opthS3}, wantCount: 1, wantSev: adjoinv1.Severity_SEVERITY_HIGH},
		{name: "S3 alone: no AES seen in the domain yet, silent", files: []string{opthS3}},
		{name: "AS-REP roasting (PreAuthType 0) after Kerbrute showed AES in offsec.lan: left to the AS-REP detector", files: []string{opthKerbrut, opthASREP}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := adjRun(t, []detection.Detector{NewOverpassTheHash()}, tt.files...)
			if len(alerts) != tt.wantCount {
				t.Fatalf("%d alerts, want %d: %v", len(alerts), tt.wantCount, alerts)
			}
			for _, a := range alerts {
				adjCheckCommon(t, a, "overpass-the-hash")
				if a.GetSeverity() != tt.wantSev || a.GetMitreTechniques()[0] != "T1550.003" ||
					a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT {
					t.Errorf("severity/technique/phase = %v %v %v", a.GetSeverity(), a.GetMitreTechniques(), a.GetKillChainPhase())
				}
				actor := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
				if actor.GetSamAccountName() != "pgustavo" || actor.GetDomain() != "theshire.local" ||
					actor.GetSid() != "S-1-5-21-4228717743-1032521047-1810997296-1104" {
					t.Errorf("actor = %v", actor)
				}
				if src := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST); src.GetIp() != "172.18.39.6" {
					t.Errorf("source = %v, want 172.18.39.6 (WORKSTATION6)", src)
				}
				if dc := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_TARGET); dc.GetDnsHostName() != "MORDORDC.theshire.local" {
					t.Errorf("target = %v", dc)
				}
				if adjEventIDs(a) != "4768" || a.GetFirstActivity().AsTime().Format("15:04") != "02:39" {
					t.Errorf("evidence %s at %v", adjEventIDs(a), a.GetFirstActivity().AsTime())
				}
			}
		})
	}
}

// The AS-REP roasting event differs from an overpass-the-hash request only by PreAuthType 0;
// set to 2 (encrypted timestamp) it is reported, which shows the exclusion is what keeps the
// real sample silent.
func TestOverpassTheHashPreAuthExclusion(t *testing.T) {
	t.Parallel()
	d := NewOverpassTheHash()
	for _, ev := range sample.Events(t, opthKerbrut) {
		if got := d.Detect(ev); len(got) != 0 {
			t.Fatalf("kerbrute alone raised %v", got)
		}
	}
	var alerts []*adjoinv1.Alert
	for _, ev := range sample.Events(t, opthASREP) {
		if ev.GetEventId() == 4768 {
			ev = proto.Clone(ev).(*adjoinv1.Event)
			ev.Fields = maps.Clone(ev.GetFields())
			ev.Fields["PreAuthType"] = "2"
		}
		alerts = append(alerts, d.Detect(ev)...)
	}
	if len(alerts) != 1 || adjRef(alerts[0], adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR).GetSamAccountName() != "admin-test" {
		t.Fatalf("alerts = %v, want one for admin-test", alerts)
	}
	// admin-test got an AES ticket during the Kerbrute run: RC4 now is a downgrade.
	if alerts[0].GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH {
		t.Errorf("severity = %v", alerts[0].GetSeverity())
	}
}

func TestOverpassTheHashSilentElsewhere(t *testing.T) {
	t.Parallel()
	for _, file := range adjSampleFiles(t) {
		for _, a := range adjRun(t, []detection.Detector{NewOverpassTheHash()}, file) {
			t.Errorf("%s: unexpected alert %s", file, a.GetDescription())
		}
	}
}

func TestOverpassTheHashBackgroundPlaybook(t *testing.T) {
	t.Parallel()
	adjLogBackground(t, []detection.Detector{NewOverpassTheHash()})
}
