package detect

import (
	"slices"
	"testing"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestPasswordBruteForceOnRecordings(t *testing.T) {
	t.Parallel()
	highThreshold := NewPasswordBruteForce()
	highThreshold.Threshold, highThreshold.FastThreshold = 60, 60
	tests := []struct {
		name     string
		file     string
		detector *PasswordBruteForce
		want     []credAccessSummary
	}{
		{
			// 54 wrong passwords (4771 0x18) for admin-hacker from 10.23.123.11 in 17 s.
			name:     "S13 Kerberos brute force on admin-hacker",
			file:     credAccessBruteForceFile,
			detector: NewPasswordBruteForce(),
			want:     []credAccessSummary{{Target: "admin-hacker", Source: "10.23.123.11", Computer: "rootdc1.offsec.lan", Evidence: 54}},
		},
		{
			name:     "S13 brute force below a raised threshold",
			file:     credAccessBruteForceFile,
			detector: highThreshold,
		},
		{
			// Each account fails once: a spray, not a brute force.
			name:     "S13 Kerbrute spray is not a brute force",
			file:     credAccessKerbruteFile,
			detector: NewPasswordBruteForce(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []credAccessSummary
			for _, a := range credAccessRun(t, tt.file, tt.detector) {
				credAccessCheckAlert(t, a, "password-brute-force", "T1110.001")
				got = append(got, credAccessSummarize(a))
				if !a.GetFirstActivity().AsTime().Equal(time.Date(2021, 12, 2, 14, 54, 21, 232643000, time.UTC)) ||
					!a.GetLastActivity().AsTime().Equal(time.Date(2021, 12, 2, 14, 54, 37, 969114000, time.UTC)) {
					t.Errorf("activity %v..%v, want the first and last 4771", a.GetFirstActivity().AsTime(), a.GetLastActivity().AsTime())
				}
				if e := a.GetEvidence()[0]; e.GetEventId() != "4771" || e.GetFields()["Status"] != "0x00000018" || e.GetRecordId() == 0 {
					t.Errorf("evidence: %v", e)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("alerts = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// Hand-written (no recording has one): failures against one account from several addresses
// are one brute force, naming every source; past MaxEvidence the alert keeps widening its
// activity without more evidence.
func TestPasswordBruteForceDistributed(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	var events []*adjoinv1.Event
	for i := range 30 {
		events = append(events, credAccessEvent(4771, "DC1.corp.local", t0.Add(time.Duration(i)*time.Second), int64(500+i), map[string]string{
			"TargetUserName": "jdoe", "TargetSid": "S-1-5-21-1-2-3-1105", "ServiceName": "krbtgt/CORP.LOCAL",
			"Status": "0x18", "PreAuthType": "2", "IpAddress": []string{"::ffff:10.0.0.5", "::ffff:10.0.0.6", "::ffff:10.0.0.7"}[i%3],
		}))
	}
	d := NewPasswordBruteForce()
	d.MaxEvidence = 25
	alerts := credAccessReplay(d, events)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1", len(alerts))
	}
	a := alerts[0]
	credAccessCheckAlert(t, a, "password-brute-force", "T1110.001")
	var sources []string
	for _, e := range a.GetEntities() {
		if e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST {
			sources = append(sources, e.GetIp())
		}
	}
	if !slices.Equal(sources, []string{"10.0.0.5", "10.0.0.6", "10.0.0.7"}) {
		t.Errorf("sources = %v", sources)
	}
	if n := len(a.GetEvidence()); n != 25 {
		t.Errorf("evidence = %d, want MaxEvidence 25", n)
	}
	if got := a.GetLastActivity().AsTime(); !got.Equal(t0.Add(29 * time.Second)) {
		t.Errorf("last activity = %v", got)
	}
}
