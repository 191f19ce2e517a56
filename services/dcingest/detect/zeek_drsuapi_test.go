package detect

import (
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// The APT29 samples hold no DRSGetNCChanges (only DRSBind, DRSCrackNames, DRSUnbind,
// DRSDomainControllerInfo, DRSWriteSPN and one unknown-30), so the positive cases are
// hand-written in the samples' format: NASHUA (10.0.1.6) replicating from NEWYORK
// (10.0.0.4), seen by two sensors that give the connection different uids.
func zeekDRSLine(sensor, ts, uid, orig, op string) string {
	return zeekJSONLine("dce_rpc", sensor, ts, uid, orig, "57100", "10.0.0.4", "49667",
		`"rtt":0.0009,"named_pipe":"49667","endpoint":"drsuapi","operation":"`+op+`"`)
}

func TestZeekDRSReplication(t *testing.T) {
	t.Parallel()
	dcs, err := ZeekDCAddresses("10.0.0.4", "10.0.0.5/32")
	if err != nil {
		t.Fatal(err)
	}
	attack := []string{
		zeekDRSLine("bobs.bigwheel.local", "1588207100.100000", "CnashuaA", "10.0.1.6", "DRSBind"),
		zeekDRSLine("bobs.bigwheel.local", "1588207100.101000", "CnashuaA", "10.0.1.6", "DRSGetNCChanges"),
		zeekDRSLine("test-nsm", "1588207100.104500", "CnewyorkB", "10.0.1.6", "DRSGetNCChanges"),           // the DC's sensor: same call
		zeekDRSLine("bobs.bigwheel.local", "1588207101.300000", "CnashuaA", "10.0.1.6", "DRSGetNCChanges"), // next batch of objects
		zeekDRSLine("test-nsm", "1588207101.303000", "CnewyorkB", "10.0.1.6", "DRSGetNCChanges"),
		zeekDRSLine("bobs.bigwheel.local", "1588207101.400000", "CnashuaA", "10.0.1.6", "DRSUnbind"),
	}
	tests := []struct {
		name         string
		isDC         func(string) bool
		lines        []string
		wantSummary  []string
		wantEvidence []int
	}{
		{name: "non-DC NASHUA replicates: one alert, one evidence per call, not per sensor", isDC: dcs, lines: attack,
			wantSummary: []string{"src=10.0.1.6 dst=10.0.0.4"}, wantEvidence: []int{2}},
		{name: "no DC list: silent", isDC: nil, lines: attack},
		{
			name: "DC to DC replication (10.0.0.5 is a DC) is silent", isDC: dcs,
			lines: []string{zeekDRSLine("test-nsm", "1588207100.1", "C1", "10.0.0.5", "DRSGetNCChanges")},
		},
		{
			name: "IPv4-mapped source is the same DC", isDC: dcs,
			lines: []string{zeekDRSLine("test-nsm", "1588207100.1", "C1", "::ffff:10.0.0.5", "DRSGetNCChanges")},
		},
		{
			name: "case of the operation does not matter; a second burst 20 min later is a second alert", isDC: dcs,
			lines: []string{
				zeekDRSLine("test-nsm", "1588207100.1", "C1", "10.0.1.5", "drsgetncchanges"),
				zeekDRSLine("test-nsm", "1588208300.1", "C2", "10.0.1.5", "DRSGetNCChanges"),
			},
			wantSummary: []string{"src=10.0.1.5 dst=10.0.0.4", "src=10.0.1.5 dst=10.0.0.4"}, wantEvidence: []int{1, 1},
		},
		{
			name: "other drsuapi calls are silent", isDC: dcs,
			lines: []string{
				zeekDRSLine("test-nsm", "1588207100.1", "C1", "10.0.1.5", "DRSCrackNames"),
				zeekDRSLine("test-nsm", "1588207100.2", "C1", "10.0.1.5", "DRSReplicaSync"),
				strings.Replace(zeekDRSLine("test-nsm", "1588207100.3", "C1", "10.0.1.5", "DRSGetNCChanges"), `"drsuapi"`, `"samr"`, 1),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var events []*adjoinv1.Event
			for _, l := range tt.lines {
				events = append(events, zeekLine(t, l))
			}
			alerts := zeekRun([]detection.Detector{NewZeekDRSReplication(tt.isDC)}, events)
			var got []string
			for i, a := range alerts {
				got = append(got, zeekSummary(a))
				if i < len(tt.wantEvidence) && len(a.GetEvidence()) != tt.wantEvidence[i] {
					t.Errorf("alert %d: %d evidence, want %d: %v", i, len(a.GetEvidence()), tt.wantEvidence[i], a.GetEvidence())
				}
				if a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH || a.GetMitreTechniques()[0] != "T1003.006" ||
					a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS ||
					a.GetSide() != adjoinv1.Side_SIDE_IDENTITY || a.GetDetector() != "zeek-drsuapi-replication" || a.GetId() == "" {
					t.Errorf("alert fields: %v", a)
				}
				for _, e := range a.GetEvidence() {
					if e.GetKind() != "zeek" || e.GetEventId() == "" || e.GetFields()["operation"] == "" {
						t.Errorf("evidence %v", e)
					}
				}
			}
			if strings.Join(got, ";") != strings.Join(tt.wantSummary, ";") {
				t.Errorf("alerts = %q, want %q", got, tt.wantSummary)
			}
		})
	}
}

func TestZeekDRSReplicationCopiesInAnyOrder(t *testing.T) {
	t.Parallel()
	dcs, _ := ZeekDCAddresses("10.0.0.4")
	nashua := []string{
		zeekDRSLine("bobs.bigwheel.local", "1588207100.101000", "CnashuaA", "10.0.1.6", "DRSGetNCChanges"),
		zeekDRSLine("bobs.bigwheel.local", "1588207101.300000", "CnashuaA", "10.0.1.6", "DRSGetNCChanges"),
	}
	newyork := []string{
		zeekDRSLine("test-nsm", "1588207100.104500", "CnewyorkB", "10.0.1.6", "DRSGetNCChanges"),
		zeekDRSLine("test-nsm", "1588207101.303000", "CnewyorkB", "10.0.1.6", "DRSGetNCChanges"),
	}
	run := func(lines ...string) []*adjoinv1.Alert {
		var events []*adjoinv1.Event
		for _, l := range lines {
			events = append(events, zeekLine(t, l))
		}
		return zeekRun([]detection.Detector{NewZeekDRSReplication(dcs)}, events)
	}
	// One sensor's whole log after the other's, and the same record replayed.
	a := run(append(append([]string{}, nashua...), newyork...)...)
	b := run(append(append(append([]string{}, nashua...), newyork...), nashua[0])...)
	if len(a) != 1 || len(b) != 1 || a[0].GetId() != b[0].GetId() || len(a[0].GetEvidence()) != 2 || len(b[0].GetEvidence()) != 2 {
		t.Fatalf("file-by-file: %v; with a replay: %v", a, b)
	}
	if hosts := a[0].GetEvidence()[0].GetHost() + "," + a[0].GetEvidence()[1].GetHost(); hosts != "bobs.bigwheel.local,bobs.bigwheel.local" {
		t.Errorf("evidence sensors %s, want the first copies'", hosts)
	}
	if first := a[0].GetFirstActivity().AsTime(); first != mustZeekTime(t, "2020-04-30T00:38:20.101Z") {
		t.Errorf("FirstActivity %v", first)
	}
}

func TestZeekDRSReplicationSilentOnSamples(t *testing.T) {
	t.Parallel()
	dcs, _ := ZeekDCAddresses("10.0.0.4")
	events := zeekSampleEvents(t, true, "apt29_day1/*", "apt29_day2/*", "LSASS_campaign_01/*")
	drs := 0
	for _, ev := range events {
		if ev.GetChannel() == "zeek/dce_rpc" && ev.GetFields()["endpoint"] == "drsuapi" {
			drs++
		}
	}
	// 3 DRSBind/DRSCrackNames/DRSUnbind triples on day 1, 90 drsuapi calls on day 2: real
	// DRSUAPI traffic from non-DC members, none of it replication.
	if drs != 99 {
		t.Errorf("%d drsuapi records in the samples, want 99", drs)
	}
	events = append(events, zeekWindowsEvents(t)...)
	if alerts := zeekRun([]detection.Detector{NewZeekDRSReplication(dcs)}, events); len(alerts) != 0 {
		t.Errorf("alerts on the samples: %v", alerts)
	}
}

func TestZeekDCAddresses(t *testing.T) {
	t.Parallel()
	isDC, err := ZeekDCAddresses(" 10.0.0.4 ", "192.168.1.0/30", "fd00::1")
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{
		"10.0.0.4": true, "::ffff:10.0.0.4": true, "192.168.1.3": true, "192.168.1.4": false,
		"fd00::1": true, "10.0.0.5": false, "NEWYORK": false, "": false,
	} {
		if got := isDC(ip); got != want {
			t.Errorf("isDC(%q) = %v, want %v", ip, got, want)
		}
	}
	if _, err := ZeekDCAddresses("NEWYORK"); err == nil {
		t.Error("a host name was accepted as a DC address")
	}
}
