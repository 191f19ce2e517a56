package detect

import (
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestZeekSAMREnumerationOnSamples(t *testing.T) {
	t.Parallel()
	type want struct {
		summary  string
		first    string // FirstActivity: the call that reached the threshold
		evidence int
	}
	tests := []struct {
		name      string
		files     []string
		sorted    bool
		threshold int
		want      []want
	}{
		{
			// 10.0.1.6 (NASHUA) and 10.0.1.4 (SCRANTON) each run the full user+group lookup
			// (EnumerateDomains, LookupNames, QueryInformationGroup, QueryInformationUser,
			// QuerySecurityObject, LsarEnumerateTrustedDomains: 6 distinct) within 0.3 s.
			// SCRANTON's earlier session at 00:24:19 makes only 4 distinct calls and stays
			// silent.
			name: "day 1", files: []string{"apt29_day1/*"}, sorted: true,
			want: []want{
				{summary: "src=10.0.1.6 dst=10.0.0.4", first: "2020-04-30T00:34:54.249535Z", evidence: 2},
				{summary: "src=10.0.1.4 dst=10.0.0.4", first: "2020-04-30T00:35:04.380021Z", evidence: 2},
			},
		},
		{
			// UTICA (10.0.1.5) twice, seen by the UTICA-A and NEWYORK sensors under
			// different uids: one alert per episode, one evidence per real call. The same
			// minute, 10.0.1.4, 10.0.1.6 and 10.0.0.5 make the 4-call group lookup only.
			name: "day 2, sensors merged in time order", files: []string{"apt29_day2/*"}, sorted: true,
			want: []want{
				{summary: "src=10.0.1.5 dst=10.0.0.4", first: "2020-05-01T07:10:51.114982Z", evidence: 2},
				{summary: "src=10.0.1.5 dst=10.0.0.4", first: "2020-05-01T07:25:16.261044Z", evidence: 2},
			},
		},
		{
			// NEWYORK's whole log first, then UTICA-A's: UTICA-A's copies are recognised, so
			// the alerts are the same; only the first episode is named by NEWYORK's copy.
			name: "day 2, one sensor's log after another", files: []string{"apt29_day2/*"},
			want: []want{
				{summary: "src=10.0.1.5 dst=10.0.0.4", first: "2020-05-01T07:10:51.119433Z", evidence: 2},
				{summary: "src=10.0.1.5 dst=10.0.0.4", first: "2020-05-01T07:25:16.261044Z", evidence: 2},
			},
		},
		{
			name: "day 2 with threshold 4: every host that ran the group lookup", files: []string{"apt29_day2/*"}, sorted: true, threshold: 4,
			want: []want{
				{summary: "src=10.0.1.5 dst=10.0.0.4", first: "2020-05-01T07:10:50.530945Z", evidence: 3},
				{summary: "src=10.0.1.4 dst=10.0.0.4", first: "2020-05-01T07:10:51.087777Z", evidence: 1},
				{summary: "src=10.0.1.6 dst=10.0.0.4", first: "2020-05-01T07:10:55.591753Z", evidence: 1},
				{summary: "src=10.0.0.5 dst=10.0.0.4", first: "2020-05-01T07:11:03.277368Z", evidence: 1},
				{summary: "src=10.0.1.5 dst=10.0.0.4", first: "2020-05-01T07:25:16.26005Z", evidence: 3},
			},
		},
		{name: "LSASS_campaign_01 has no dce_rpc log", files: []string{"LSASS_campaign_01/*"}, sorted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := NewZeekSAMREnumeration()
			if tt.threshold > 0 {
				d.Threshold = tt.threshold
			}
			alerts := zeekRun([]detection.Detector{d}, zeekSampleEvents(t, tt.sorted, tt.files...))
			if len(alerts) != len(tt.want) {
				for _, a := range alerts {
					t.Logf("alert %s at %v", zeekSummary(a), a.GetFirstActivity().AsTime())
				}
				t.Fatalf("%d alerts, want %d", len(alerts), len(tt.want))
			}
			for i, w := range tt.want {
				a := alerts[i]
				if got := zeekSummary(a); got != w.summary {
					t.Errorf("alert %d = %s, want %s", i, got, w.summary)
				}
				if first := a.GetFirstActivity().AsTime(); !first.Equal(mustZeekTime(t, w.first)) {
					t.Errorf("alert %d FirstActivity = %v, want %s", i, first, w.first)
				}
				if n := len(a.GetEvidence()); n != w.evidence {
					t.Errorf("alert %d: %d evidence, want %d", i, n, w.evidence)
				}
				if a.GetMitreTechniques()[0] != "T1087.002" || a.GetDetector() != "zeek-samr-enumeration" ||
					a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_RECONNAISSANCE || a.GetId() == "" {
					t.Errorf("alert fields: %v", a)
				}
				for _, e := range a.GetEvidence() {
					if e.GetKind() != "zeek" || e.GetHost() != "test-nsm" && !strings.HasSuffix(e.GetHost(), ".local") && !strings.HasSuffix(e.GetHost(), ".lan") {
						t.Errorf("evidence %v", e)
					}
				}
			}
		})
	}
}

func TestZeekSAMREnumerationIDsStableAcrossReplays(t *testing.T) {
	t.Parallel()
	run := func() []*adjoinv1.Alert {
		return zeekRun([]detection.Detector{NewZeekSAMREnumeration()}, zeekSampleEvents(t, true, "apt29_day2/*"))
	}
	a, b := run(), run()
	if len(a) != 2 || len(b) != 2 || a[0].GetId() != b[0].GetId() || a[1].GetId() != b[1].GetId() || a[0].GetId() == a[1].GetId() {
		t.Fatalf("ids differ between replays: %v vs %v", a, b)
	}
}

// zeekSAMRLine is a dce_rpc.log SAMR call over \pipe\lsass in the APT29 sensors' format.
func zeekSAMRLine(ts, uid, orig, op string) string {
	endpoint := "samr"
	if strings.HasPrefix(op, "Lsar") {
		endpoint = "lsarpc"
	}
	return zeekJSONLine("dce_rpc", "test-nsm", ts, uid, orig, "49800", "10.0.0.4", "445",
		`"rtt":0.0005,"named_pipe":"\\pipe\\lsass","endpoint":"`+endpoint+`","operation":"`+op+`"`)
}

func TestZeekSAMREnumerationHandWritten(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		lines        []string
		wantSummary  []string
		wantEvidence []int
	}{
		{
			name: "SharpHound-style listing: fires on the fifth distinct call",
			lines: []string{
				zeekSAMRLine("1588317000.1", "C1", "10.0.1.9", "SamrConnect5"),
				zeekSAMRLine("1588317000.2", "C1", "10.0.1.9", "SamrEnumerateUsersInDomain"),
				zeekSAMRLine("1588317000.3", "C1", "10.0.1.9", "SamrEnumerateGroupsInDomain"),
				zeekSAMRLine("1588317000.4", "C1", "10.0.1.9", "SamrEnumerateAliasesInDomain"),
				zeekSAMRLine("1588317000.5", "C1", "10.0.1.9", "SamrQueryDisplayInformation2"),
				zeekSAMRLine("1588317001.0", "C1", "10.0.1.9", "SamrGetMembersInGroup"),
				zeekSAMRLine("1588317001.1", "C1", "10.0.1.9", "SamrGetMembersInGroup"),
				zeekSAMRLine("1588317001.2", "C1", "10.0.1.9", "SamrCloseHandle"),
			},
			wantSummary: []string{"src=10.0.1.9 dst=10.0.0.4"}, wantEvidence: []int{2},
		},
		{
			name: "one call repeated, plumbing and name translation do not count",
			lines: []string{
				zeekSAMRLine("1588317000.1", "C1", "10.0.1.9", "SamrLookupNamesInDomain"),
				zeekSAMRLine("1588317000.2", "C1", "10.0.1.9", "SamrLookupNamesInDomain"),
				zeekSAMRLine("1588317000.3", "C1", "10.0.1.9", "SamrOpenDomain"),
				zeekSAMRLine("1588317000.4", "C1", "10.0.1.9", "SamrConnect5"),
				zeekSAMRLine("1588317000.5", "C1", "10.0.1.9", "LsarLookupSids3"),
				zeekSAMRLine("1588317000.6", "C1", "10.0.1.9", "LsarLookupNames3"),
				zeekSAMRLine("1588317000.7", "C1", "10.0.1.9", "LsarOpenPolicy2"),
				zeekSAMRLine("1588317000.8", "C1", "10.0.1.9", "SamrCloseHandle"),
			},
		},
		{
			name: "five distinct calls spread over more than the window stay silent",
			lines: []string{
				zeekSAMRLine("1588317000", "C1", "10.0.1.9", "SamrEnumerateUsersInDomain"),
				zeekSAMRLine("1588317040", "C2", "10.0.1.9", "SamrEnumerateGroupsInDomain"),
				zeekSAMRLine("1588317080", "C3", "10.0.1.9", "SamrEnumerateAliasesInDomain"),
				zeekSAMRLine("1588317120", "C4", "10.0.1.9", "SamrGetMembersInGroup"),
				zeekSAMRLine("1588317160", "C5", "10.0.1.9", "LsarEnumerateTrustedDomainsEx"),
			},
		},
		{
			name: "calls from two clients are counted apart",
			lines: []string{
				zeekSAMRLine("1588317000.1", "C1", "10.0.1.8", "SamrEnumerateUsersInDomain"),
				zeekSAMRLine("1588317000.2", "C1", "10.0.1.8", "SamrEnumerateGroupsInDomain"),
				zeekSAMRLine("1588317000.3", "C1", "10.0.1.8", "SamrEnumerateAliasesInDomain"),
				zeekSAMRLine("1588317000.4", "C2", "10.0.1.9", "SamrQueryDisplayInformation2"),
				zeekSAMRLine("1588317000.5", "C2", "10.0.1.9", "SamrGetMembersInGroup"),
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
			alerts := zeekRun([]detection.Detector{NewZeekSAMREnumeration()}, events)
			var got []string
			for i, a := range alerts {
				got = append(got, zeekSummary(a))
				if i < len(tt.wantEvidence) && len(a.GetEvidence()) != tt.wantEvidence[i] {
					t.Errorf("alert %d: %d evidence, want %d", i, len(a.GetEvidence()), tt.wantEvidence[i])
				}
			}
			if strings.Join(got, ";") != strings.Join(tt.wantSummary, ";") {
				t.Errorf("alerts = %q, want %q", got, tt.wantSummary)
			}
		})
	}
}

// TestZeekDetectorsIgnoreOtherSources runs all four detectors over the Windows S1 recording
// (which holds a real DCSync, seen from the host side) and over Zeek logs they do not read.
func TestZeekDetectorsIgnoreOtherSources(t *testing.T) {
	t.Parallel()
	dcs, _ := ZeekDCAddresses("10.0.0.4", "172.18.39.5")
	detectors := []detection.Detector{NewZeekDRSReplication(dcs), NewZeekKerberosRC4(), NewZeekAdminShare(), NewZeekSAMREnumeration()}
	events := append(zeekWindowsEvents(t), zeekSampleEvents(t, true, "apt29_day*/*smb_files.log", "LSASS_campaign_01/conn.log")...)
	if alerts := zeekRun(detectors, events); len(alerts) != 0 {
		t.Errorf("alerts: %v", alerts)
	}
	names := map[string]bool{}
	for _, d := range detectors {
		if !strings.HasPrefix(d.Name(), "zeek-") || names[d.Name()] {
			t.Errorf("detector name %q", d.Name())
		}
		names[d.Name()] = true
	}
}
