package detect

import (
	"slices"
	"strings"
	"testing"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestASREPRoastingOnRecordings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		file      string
		want      []credAccessSummary
		wantEtype string
	}{
		{
			name:      "S13 AS-REP roasting of admin-test from 10.23.23.9",
			file:      credAccessASREPFile,
			want:      []credAccessSummary{{Target: "admin-test", Source: "10.23.23.9", Computer: "rootdc1.offsec.lan", Evidence: 1}},
			wantEtype: "RC4-HMAC",
		},
		{
			// Kerbrute's first AS-REQ carries no pre-authentication; for admin-test and
			// hacker2, which do not require it, the DC answered with a TGT (4768 success,
			// PreAuthType 0, AES) encrypted with the account's key: roastable material
			// handed to 10.23.123.11. One alert for the source, with both tickets.
			name:      "S13 Kerbrute obtained AS-REPs for the two accounts without pre-authentication",
			file:      credAccessKerbruteFile,
			want:      []credAccessSummary{{Target: "admin-test", Source: "10.23.123.11", Computer: "rootdc1.offsec.lan", Evidence: 2}},
			wantEtype: "AES256-CTS-HMAC-SHA1-96",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []credAccessSummary
			for _, a := range credAccessRun(t, tt.file, NewASREPRoasting()) {
				credAccessCheckAlert(t, a, "asrep-roasting", "T1558.004")
				got = append(got, credAccessSummarize(a))
				if !strings.Contains(a.GetDescription(), tt.wantEtype) {
					t.Errorf("description %q does not name %s", a.GetDescription(), tt.wantEtype)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("alerts = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// Hand-written 4768 events for the cases the recordings lack.
func TestASREPRoastingVariants(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	tgt := func(user, status, preAuth string) *adjoinv1.Event {
		return credAccessEvent(4768, "DC1.corp.local", t0, 900, map[string]string{
			"TargetUserName": user, "TargetDomainName": "CORP", "TargetSid": "S-1-5-21-1-2-3-1300", "ServiceName": "krbtgt",
			"Status": status, "PreAuthType": preAuth, "TicketEncryptionType": "0x17", "IpAddress": "::ffff:10.0.0.66",
		})
	}
	ignoring := NewASREPRoasting()
	ignoring.IgnoreAccounts["svc-unix"] = true
	tests := []struct {
		name     string
		event    *adjoinv1.Event
		detector *ASREPRoasting
		want     int
	}{
		{name: "OTRF-style short hex", event: tgt("svc-unix", "0x0", "0"), want: 1},
		{name: "pre-authenticated TGT", event: tgt("svc-unix", "0x0", "2")},
		{name: "failed request has no pre-authentication type", event: tgt("svc-unix", "0x12", "-")},
		{name: "accepted account", event: tgt("svc-unix", "0x0", "0"), detector: ignoring},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := tt.detector
			if d == nil {
				d = NewASREPRoasting()
			}
			alerts := credAccessReplay(d, []*adjoinv1.Event{tt.event})
			if len(alerts) != tt.want {
				t.Fatalf("%d alerts, want %d", len(alerts), tt.want)
			}
			for _, a := range alerts {
				credAccessCheckAlert(t, a, "asrep-roasting", "T1558.004")
				if s := credAccessSummarize(a); s != (credAccessSummary{Target: "svc-unix", Source: "10.0.0.66", Computer: "DC1.corp.local", Evidence: 1}) {
					t.Errorf("alert = %+v", s)
				}
			}
		})
	}
}
