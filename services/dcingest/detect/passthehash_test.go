package detect

import (
	"strings"
	"testing"

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
			wantSev: adjoinv1.Severity_SEVERITY_HIGH,
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
