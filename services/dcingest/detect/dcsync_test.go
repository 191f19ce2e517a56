package detect

import (
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// dcs is a directory stand-in that knows some machine accounts, and which of them are DCs.
type dcs map[string]bool

func (d dcs) IsDomainController(_, sam string) (bool, bool) {
	isDC, known := d[entity.Fold(sam)]
	return isDC, known
}

func detect(t *testing.T, file string, known dcs) []*adjoinv1.Alert {
	t.Helper()
	sessions := NewSessions(1000)
	detectors := []detection.Detector{sessions, NewDCSync(known, sessions)}
	var alerts []*adjoinv1.Alert
	for _, ev := range sample.Events(t, file) {
		alerts = append(alerts, detection.Run(detectors, ev)...)
	}
	return detection.Merge(alerts)
}

func TestDCSyncOnRecordings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		file         string
		known        dcs
		wantActors   []string // DOMAIN\sam of each alert, in order
		wantEvidence []int
		wantSourceIP string // of the first alert; "" when none is expected
	}{
		{
			name:         "S1 Covenant DCSync by pgustavo from WORKSTATION5",
			file:         "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json",
			wantActors:   []string{`THESHIRE\pgustavo`},
			wantEvidence: []int{3},
			wantSourceIP: "172.18.39.5",
		},
		{
			name:         "S2 Empire DCSync by pgustavo",
			file:         "otrf/host/empire_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-09-21185829.sec-sys-sysmon.json",
			wantActors:   []string{`THESHIRE\pgustavo`},
			wantEvidence: []int{3},
			wantSourceIP: "172.18.39.5",
		},
		{
			name:         "S13 mimikatz DCSync by admmig, ROOTDC2$ known as a DC stays silent",
			file:         "evtx-to-mitre-attack/ndjson/ID4662-DCsync attack using Mimikatz.json",
			known:        dcs{"rootdc2$": true},
			wantActors:   []string{`OFFSEC\admmig`},
			wantEvidence: []int{3},
		},
		{
			name:         "S13 ROOTDC2$ unknown to the directory is not alerted on",
			file:         "evtx-to-mitre-attack/ndjson/ID4662-DCsync attack using Mimikatz.json",
			wantActors:   []string{`OFFSEC\admmig`},
			wantEvidence: []int{3},
		},
		{
			name:       "S13 a machine account the directory knows as a non-DC is alerted on",
			file:       "evtx-to-mitre-attack/ndjson/ID4662-DCsync attack using Mimikatz.json",
			known:      dcs{"rootdc2$": false},
			wantActors: []string{`OFFSEC\admmig`, `OFFSEC\ROOTDC2$`},
		},
		{
			name: "S4 endpoint-only pass-the-hash: no DC-side DCSync",
			file: "otrf/host/empire_over_pth_patch_lsass_2020-09-21221336.sec-sys-sysmon.json",
		},
		{
			name: "S13 CME group enumeration reads groups, not replication rights",
			file: "evtx-to-mitre-attack/ndjson/ID4662-Domain group enumeration CME.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := detect(t, tt.file, tt.known)
			var actors []string
			for _, a := range alerts {
				actor := a.GetEntities()[0]
				actors = append(actors, actor.GetDomain()+`\`+actor.GetSamAccountName())
			}
			if strings.Join(actors, ",") != strings.Join(tt.wantActors, ",") {
				t.Fatalf("actors = %v, want %v", actors, tt.wantActors)
			}
			for i, n := range tt.wantEvidence {
				if got := len(alerts[i].GetEvidence()); got != n {
					t.Errorf("alert %d evidence = %d, want %d", i, got, n)
				}
			}
			if tt.wantSourceIP != "" {
				if ip := sourceIP(alerts[0]); ip != tt.wantSourceIP {
					t.Errorf("source host ip = %q, want %q", ip, tt.wantSourceIP)
				}
			}
			for _, a := range alerts {
				if a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH || a.GetSide() != adjoinv1.Side_SIDE_IDENTITY ||
					a.GetMitreTechniques()[0] != "T1003.006" || a.GetId() == "" {
					t.Errorf("alert fields: %v", a)
				}
			}
		})
	}
}

func sourceIP(a *adjoinv1.Alert) string {
	for _, e := range a.GetEntities() {
		if e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST {
			return e.GetIp()
		}
	}
	return ""
}

func TestDCSyncAlertIDIsStableAcrossReplays(t *testing.T) {
	t.Parallel()
	file := "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json"
	first, second := detect(t, file, nil), detect(t, file, nil)
	if len(first) != 1 || len(second) != 1 || first[0].GetId() != second[0].GetId() {
		t.Fatalf("ids differ between replays: %v vs %v", first, second)
	}
}

func TestDCSyncBackgroundPlaybook(t *testing.T) {
	if testing.Short() {
		t.Skip("13 MB recording")
	}
	t.Parallel()
	// S12 has no DCSync in its playbook description; its DC replicates only as MORDORDC$.
	alerts := detect(t, "otrf/background/purplesharp_ad_playbook_I_2020-10-22042947.sec-sys-sysmon-no-sysmon12.json", dcs{"mordordc$": true})
	for _, a := range alerts {
		t.Errorf("unexpected DCSync alert: %s", a.GetDescription())
	}
}
