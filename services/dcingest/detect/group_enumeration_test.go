package detect

import (
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
)

func groupEnumDetector(s *Sessions) detection.Detector { return NewGroupEnumeration(s) }

func TestGroupEnumerationOnRecordings(t *testing.T) {
	t.Parallel()
	const cme = "evtx-to-mitre-attack/ndjson/ID4662-Domain group enumeration CME.json"
	tests := []struct {
		name string
		file string
		mk   func(*Sessions) detection.Detector
		want []reconWant
	}{
		{
			// 80 distinct groups in 27 ms: the episode starts at the 20th, so 61 events are evidence.
			name: "S13 CME group enumeration by admmig on rootdc1",
			file: cme,
			mk:   groupEnumDetector,
			want: []reconWant{{actor: `offsec\admmig`, target: "rootdc1.offsec.lan", evidence: 61}},
		},
		{
			name: "S13 CME with MaxEvidence 5: one alert, evidence capped",
			file: cme,
			mk:   func(s *Sessions) detection.Detector { d := NewGroupEnumeration(s); d.MaxEvidence = 5; return d },
			want: []reconWant{{actor: `offsec\admmig`, target: "rootdc1.offsec.lan", evidence: 5}},
		},
		{
			name: "S13 CME below a threshold of 81 distinct groups: silent",
			file: cme,
			mk:   func(s *Sessions) detection.Detector { d := NewGroupEnumeration(s); d.Threshold = 81; return d },
		},
		{
			name: "S13 CME within a 1 ms window: 80 reads in 27 ms never reach 20 at once",
			file: cme,
			mk: func(s *Sessions) detection.Detector {
				d := NewGroupEnumeration(s)
				d.Window = time.Millisecond
				return d
			},
		},
		{name: "S13 mimikatz DCSync: 4662 on the domain object", file: "evtx-to-mitre-attack/ndjson/ID4662-DCsync attack using Mimikatz.json", mk: groupEnumDetector},
		{name: "S13 DCSync rights granted (5136 + 4662)", file: "evtx-to-mitre-attack/ndjson/ID5136-Permission change on top root AD (DCsync).json", mk: groupEnumDetector},
		{name: "S13 honeypot user object read", file: "evtx-to-mitre-attack/ndjson/ID4662-4624-Honeypot account property read.json", mk: groupEnumDetector},
		{name: "S1 Covenant DCSync", file: "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json", mk: groupEnumDetector},
		{name: "S2 Empire DCSync", file: "otrf/host/empire_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-09-21185829.sec-sys-sysmon.json", mk: groupEnumDetector},
		{name: "S8 LDAP GetDomainGroup: the DC logged no 4662", file: "otrf/host/covenant_getdomaingroup_ldap_searchrequest_domain_admins_2020-09-22141005.json", mk: groupEnumDetector},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reconCheck(t, reconRun(t, tt.file, tt.mk), "group-enumeration", []string{"T1069.002"}, tt.want)
		})
	}
}

func TestGroupEnumerationAlertIDIsStableAcrossReplays(t *testing.T) {
	t.Parallel()
	file := "evtx-to-mitre-attack/ndjson/ID4662-Domain group enumeration CME.json"
	if a, b := reconIDs(reconRun(t, file, groupEnumDetector)), reconIDs(reconRun(t, file, groupEnumDetector)); a == "" || a != b {
		t.Fatalf("ids differ between replays: %s vs %s", a, b)
	}
}

func TestGroupEnumerationBackground(t *testing.T) {
	t.Parallel()
	reconLogBackground(t, groupEnumDetector)
}
