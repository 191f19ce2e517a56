package detect

import (
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// zeekMappingLine is an smb_mapping.log record in the APT29 sensors' format. path is the UNC
// path as it reads once decoded (\\HOST\SHARE).
func zeekMappingLine(sensor, ts, uid, orig, origPort, path, shareType string) string {
	jsonPath := strings.ReplaceAll(path, `\`, `\\`)
	return zeekJSONLine("smb_mapping", sensor, ts, uid, orig, origPort, "10.0.0.4", "445",
		`"path":"`+jsonPath+`","share_type":"`+shareType+`"`)
}

func TestZeekAdminShare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		lines        []string
		wantSummary  []string
		wantEvidence []int
		wantTitle    string
		wantDNS      string // DnsHostName of the first alert's target
	}{
		{
			// Hand-written: no sample maps an administrative share. UTICA (10.0.1.5) maps
			// ADMIN$ on NEWYORK; the UTICA-A and NEWYORK sensors both log it, under
			// different uids, 4 ms apart, as they do for the real IPC$ mappings.
			name: "UTICA maps ADMIN$ on NEWYORK, seen by two sensors: one alert, one evidence",
			lines: []string{
				zeekMappingLine("test-nsm", "1588317043.723978", "CPd25kXikFuv9F5Q5", "10.0.1.5", "61045", `\\NEWYORK\ADMIN$`, "DISK"),
				zeekMappingLine("test-nsm", "1588317043.728115", "CvVjru4euUaT7mcWdi", "10.0.1.5", "61045", `\\NEWYORK\ADMIN$`, "DISK"),
			},
			wantSummary: []string{"src=10.0.1.5 dst=10.0.0.4/newyork"}, wantEvidence: []int{1}, wantTitle: "ADMIN$",
		},
		{
			name: "C$ by address, again 30 s later on a new connection: same alert, two evidence",
			lines: []string{
				zeekMappingLine("s", "1588317043.7", "C1", "10.0.1.5", "61050", `\\10.0.0.4\c$`, "DISK"),
				zeekMappingLine("s", "1588317073.7", "C2", "10.0.1.5", "61051", `\\10.0.0.4\C$\Windows\Temp`, "DISK"),
			},
			wantSummary: []string{"src=10.0.1.5 dst=10.0.0.4"}, wantEvidence: []int{2}, wantTitle: "C$",
		},
		{
			name: "FQDN target names the computer",
			lines: []string{
				zeekMappingLine("s", "1588317043.7", "C1", "10.0.1.6", "61050", `\\NEWYORK.dmevals.local\ADMIN$`, "DISK"),
			},
			wantSummary: []string{"src=10.0.1.6 dst=10.0.0.4/newyork"}, wantEvidence: []int{1}, wantDNS: "NEWYORK.dmevals.local",
		},
		{
			name: "IPC$, SYSVOL, NETLOGON, print$, ordinary and unset paths are silent",
			lines: []string{
				zeekMappingLine("s", "1588317043.1", "C1", "10.0.1.5", "61050", `\\NEWYORK.dmevals.local\IPC$`, "PIPE"),
				zeekMappingLine("s", "1588317043.2", "C2", "10.0.1.5", "61051", `\\NEWYORK.dmevals.local\sysvol`, "DISK"),
				zeekMappingLine("s", "1588317043.3", "C3", "10.0.1.5", "61052", `\\NEWYORK\NETLOGON`, "DISK"),
				zeekMappingLine("s", "1588317043.4", "C4", "10.0.1.5", "61053", `\\NEWYORK\print$`, "PRINT"),
				zeekMappingLine("s", "1588317043.5", "C5", "10.0.1.5", "61054", `\\NEWYORK\Shared`, "DISK"),
				zeekMappingLine("s", "1588317043.6", "C6", "10.0.1.5", "61055", `ADMIN$`, "DISK"),
				zeekJSONLine("smb_mapping", "s", "1588317043.7", "C7", "10.0.1.5", "61056", "10.0.0.4", "445", `"share_type":"PIPE"`),
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
			alerts := zeekRun([]detection.Detector{NewZeekAdminShare()}, events)
			var got []string
			for i, a := range alerts {
				got = append(got, zeekSummary(a))
				if i < len(tt.wantEvidence) && len(a.GetEvidence()) != tt.wantEvidence[i] {
					t.Errorf("alert %d: %d evidence, want %d", i, len(a.GetEvidence()), tt.wantEvidence[i])
				}
				if !strings.Contains(a.GetTitle(), tt.wantTitle) || a.GetMitreTechniques()[0] != "T1021.002" ||
					a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT || a.GetDetector() != "zeek-admin-share" {
					t.Errorf("alert fields: %v", a)
				}
			}
			if strings.Join(got, ";") != strings.Join(tt.wantSummary, ";") {
				t.Errorf("alerts = %q, want %q", got, tt.wantSummary)
			}
			if len(alerts) > 0 {
				if dns := zeekEntity(alerts[0], adjoinv1.EntityRole_ENTITY_ROLE_TARGET).GetDnsHostName(); dns != tt.wantDNS {
					t.Errorf("target DnsHostName = %q, want %q", dns, tt.wantDNS)
				}
			}
		})
	}
}

func TestZeekAdminShareSilentOnSamples(t *testing.T) {
	t.Parallel()
	events := zeekSampleEvents(t, true, "apt29_day1/*smb_mapping.log", "apt29_day2/*smb_mapping.log", "LSASS_campaign_01/smb_mapping.log")
	shares := map[string]int{}
	for _, ev := range events {
		p, ok := ev.GetFields()["path"]
		if !ok {
			p = "(unset)"
		} else {
			_, p = zeekUNC(p)
		}
		shares[p]++
	}
	// The APT29 mappings are IPC$ and SYSVOL; LSASS_campaign_01's one row has no path.
	if len(events) != 35 || shares["ipc$"] != 31 || shares["sysvol"] != 3 || shares["(unset)"] != 1 {
		t.Errorf("%d mappings, shares %v; want 35: 31 ipc$, 3 sysvol, 1 unset", len(events), shares)
	}
	events = append(events, zeekWindowsEvents(t)...)
	if alerts := zeekRun([]detection.Detector{NewZeekAdminShare()}, events); len(alerts) != 0 {
		t.Errorf("alerts on the samples: %v", alerts)
	}
}
