package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

const (
	goldTGSFile   = "evtx-to-mitre-attack/ndjson/ID4769-Golden ticket issued.json"
	goldShareFile = "evtx-to-mitre-attack/ndjson/ID5140-ADMIN$ share connection with Golden ticket.json"
	goldLogonFile = "evtx-to-mitre-attack/ndjson/ID4624-Success login with Golden ticket.json"
)

// goldDirectory is a directory stand-in that knows the real accounts of the recordings (the
// OTRF lab users and the offsec.lan users) and every machine account; nil names means no
// directory at all.
type goldDirectory struct{ names map[string]bool }

func (g goldDirectory) KnowsAccount(_, sam string) (bool, bool) {
	if g.names == nil {
		return false, false
	}
	sam = entity.Fold(sam)
	return g.names[sam] || strings.HasSuffix(sam, "$"), true
}

var goldKnown = goldDirectory{names: map[string]bool{
	"pgustavo": true, "wardog": true, "sbeavers": true, "admmig": true, "lambda-user": true,
	"admin-test": true, "hack1": true, "hacker2": true, "dsrm": true, "rootdc1": true,
}}

func TestGoldenTicketWithDirectory(t *testing.T) {
	t.Parallel()
	goldTGS := 0
	for _, ev := range sample.Events(t, goldTGSFile) {
		if ev.GetEventId() == 4769 && strings.HasPrefix(ev.GetFields()["TargetUserName"], "gold-non-existing-user") {
			goldTGS++
		}
	}
	tests := []struct {
		name       string
		file       string
		wantTitle  string
		wantActor  string // domain\sam
		wantSID    string
		wantHost   string
		wantRole   adjoinv1.EntityRole
		wantEvents int
	}{
		{
			name: "4769 for gold-non-existing-user without a TGT", file: goldTGSFile, wantTitle: "without a TGT",
			wantActor: `offsec.lan\gold-non-existing-user`, wantHost: "rootdc1.offsec.lan", wantRole: adjoinv1.EntityRole_ENTITY_ROLE_TARGET,
			wantEvents: goldTGS,
		},
		{
			name: "5140 ADMIN$ on rootdc1 by not_existing_user (RID 500)", file: goldShareFile, wantTitle: "does not have",
			wantActor: `offsec\not_existing_user`, wantSID: "S-1-5-21-4230534742-2542757381-3142984815-500",
			wantHost: "rootdc1.offsec.lan", wantRole: adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST, wantEvents: 1,
		},
		{
			name: "4624 Kerberos logon on fs02 by not_existing_user (RID 500)", file: goldLogonFile, wantTitle: "does not have",
			wantActor: `offsec\not_existing_user`, wantSID: "S-1-5-21-4230534742-2542757381-3142984815-500",
			wantHost: "fs02.offsec.lan", wantRole: adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST, wantEvents: 1,
		},
	}
	if goldTGS != 8 {
		t.Fatalf("%d golden 4769 in the sample, the README counts 8", goldTGS)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := adjRun(t, []detection.Detector{NewGoldenTicket(goldKnown)}, tt.file)
			if len(alerts) != 1 {
				t.Fatalf("%d alerts, want 1: %v", len(alerts), alerts)
			}
			a := alerts[0]
			adjCheckCommon(t, a, "golden-ticket")
			if a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH || a.GetMitreTechniques()[0] != "T1558.001" ||
				a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE || !strings.Contains(a.GetTitle(), tt.wantTitle) {
				t.Errorf("title/severity/technique/phase = %q %v %v %v", a.GetTitle(), a.GetSeverity(), a.GetMitreTechniques(), a.GetKillChainPhase())
			}
			actor := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
			if got := actor.GetDomain() + `\` + actor.GetSamAccountName(); got != tt.wantActor || actor.GetSid() != tt.wantSID {
				t.Errorf("actor = %v, want %s %s", actor, tt.wantActor, tt.wantSID)
			}
			if src := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST); src.GetIp() != "10.23.23.9" {
				t.Errorf("source = %v", src)
			}
			if h := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, tt.wantRole); h.GetDnsHostName() != tt.wantHost {
				t.Errorf("host = %v, want %s as %v", h, tt.wantHost, tt.wantRole)
			}
			if n := len(a.GetEvidence()); n != tt.wantEvents {
				t.Errorf("%d events in the alert, want %d", n, tt.wantEvents)
			}
		})
	}
}

// With a directory that knows the accounts, ordinary traffic — including the OTRF service
// tickets whose TGT was issued before the recording started — raises nothing.
func TestGoldenTicketWithDirectorySilentElsewhere(t *testing.T) {
	t.Parallel()
	for _, file := range adjSampleFiles(t, goldTGSFile, goldShareFile, goldLogonFile) {
		for _, a := range adjRun(t, []detection.Detector{NewGoldenTicket(goldKnown)}, file) {
			t.Errorf("%s: unexpected alert %s", file, a.GetDescription())
		}
	}
}

func TestGoldenTicketWithoutDirectory(t *testing.T) {
	t.Parallel()
	noDirectory := func(warmUp bool) []detection.Detector {
		d := NewGoldenTicket(nil)
		if !warmUp {
			d.WarmUp = 0
		}
		return []detection.Detector{d}
	}
	// The golden 4769 name the realm "offsec.lan" in lower case (the KDC's own tickets say
	// OFFSEC.LAN): reported medium without a directory, warm-up or not.
	for _, warmUp := range []bool{true, false} {
		alerts := adjRun(t, noDirectory(warmUp), goldTGSFile)
		if len(alerts) != 1 || alerts[0].GetSeverity() != adjoinv1.Severity_SEVERITY_MEDIUM ||
			adjRef(alerts[0], adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR).GetSamAccountName() != "gold-non-existing-user" ||
			!strings.Contains(alerts[0].GetDescription(), "lower case") || len(alerts[0].GetEvidence()) != 8 {
			t.Errorf("golden 4769 without a directory (warm-up %v): %v", warmUp, alerts)
		}
	}
	// With the default warm-up (one TGT lifetime) a missing TGT alone means nothing in
	// recordings of a few minutes, and no other recording has a lower-case realm.
	for _, file := range adjSampleFiles(t, goldTGSFile, goldShareFile, goldLogonFile) {
		for _, a := range adjRun(t, noDirectory(true), file) {
			t.Errorf("%s: unexpected alert %s", file, a.GetDescription())
		}
	}
	// The RID-500 logons under another name are reported, low, with or without warm-up.
	for _, file := range []string{goldShareFile, goldLogonFile} {
		alerts := adjRun(t, noDirectory(true), file)
		if len(alerts) != 1 || alerts[0].GetSeverity() != adjoinv1.Severity_SEVERITY_LOW ||
			adjRef(alerts[0], adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR).GetSamAccountName() != "not_existing_user" {
			t.Errorf("%s without a directory: %v", file, alerts)
		}
	}
	// What the missing-TGT rule alone raises on the other recordings (not asserted): every
	// service ticket whose TGT predates the capture.
	for _, file := range adjSampleFiles(t, goldTGSFile, goldShareFile, goldLogonFile) {
		events := sample.Events(t, file)
		for _, a := range adjRunEvents(noDirectory(false), events) {
			t.Logf("no directory, no warm-up: %s: [%s] %s", file, a.GetSeverity(), a.GetDescription())
		}
		if alerts := adjRunEvents(noDirectory(true), events); len(alerts) != 0 {
			t.Errorf("%s: alerts without a directory despite the warm-up: %v", file, alerts)
		}
	}
}

func TestGoldenTicketBackgroundPlaybook(t *testing.T) {
	t.Parallel()
	noWarmUp := NewGoldenTicket(nil)
	noWarmUp.WarmUp = 0
	adjLogBackground(t, []detection.Detector{NewGoldenTicket(goldKnown)}, []detection.Detector{NewGoldenTicket(nil)}, []detection.Detector{noWarmUp})
}

func TestGoldenTicketWarmUpRestartsAfterAGap(t *testing.T) {
	t.Parallel()
	// `adjoin detect` over several recordings: months lie between them, so the TGTs of the
	// later one's accounts were never seen. The S12 background (54 s) after the CC0
	// Kerberoasting sample (2020-08-02; minutes long) must not count those months as observed
	// toward an hour's warm-up.
	d := NewGoldenTicket(nil)
	d.WarmUp = time.Hour
	for _, a := range adjRun(t, []detection.Detector{d}, "evtx-to-mitre-attack/ndjson/ID4769-Kerberoast ticket with low encryption.json", reconBackground) {
		t.Errorf("unexpected alert: %s", a.GetDescription())
	}
	t0 := time.Date(2020, 10, 22, 8, 0, 0, 0, time.UTC)
	for _, step := range []struct {
		at   time.Duration
		want time.Duration
	}{{0, 0}, {20 * time.Minute, 20 * time.Minute}, {10 * time.Minute, 20 * time.Minute}, {40 * time.Minute, 40 * time.Minute},
		{2 * time.Hour, 0}, {-time.Hour, 0}} {
		d.observe(t0.Add(step.at))
		if d.observed != step.want {
			t.Errorf("after an event at +%s: observed %s, want %s", step.at, d.observed, step.want)
		}
	}
}
