package detect

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestKerberoastingOnRecordings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		want []credAccessSummary
	}{
		{
			// One RC4 (0x00000017) ticket for Svc-SQL-DB01; the 8 AES machine tickets, the
			// krbtgt renewal and the failed request (0x25) in the same file stay silent.
			name: "S13 Kerberoasting of Svc-SQL-DB01 by admmig",
			file: credAccessKerberoastFile,
			want: []credAccessSummary{{Actor: `offsec.lan\admmig`, Target: "svc-sql-db01", Source: "10.23.23.9", Computer: "rootdc1.offsec.lan", Evidence: 1}},
		},
		{
			// 24 tickets for computer accounts: BloodHound session enumeration, not roasting.
			name: "S13 BloodHound TGS sweep over host$ accounts",
			file: "evtx-to-mitre-attack/ndjson/ID4769-Kerberos TGS host enumeration (Bloodhound).json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []credAccessSummary
			for _, a := range credAccessRun(t, tt.file, NewKerberoasting()) {
				credAccessCheckAlert(t, a, "kerberoasting", "T1558.003")
				got = append(got, credAccessSummarize(a))
				if !strings.Contains(a.GetTitle(), "RC4-HMAC") || a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH {
					t.Errorf("title %q severity %v", a.GetTitle(), a.GetSeverity())
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("alerts = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// Hand-written 4769 events: the recordings have no AES roasting, no roast of several
// accounts and no OTRF-style ("0x17") RC4 ticket outside the background file.
func TestKerberoastingVariants(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	tgs := func(i int, requester, service, etype, status string) *adjoinv1.Event {
		return credAccessEvent(4769, "DC1.corp.local", t0.Add(time.Duration(i)*100*time.Millisecond), int64(700+i), map[string]string{
			"TargetUserName": requester, "TargetDomainName": "CORP.LOCAL", "ServiceName": service, "ServiceSid": "S-1-5-21-1-2-3-" + fmt.Sprint(2000+i),
			"TicketEncryptionType": etype, "TicketOptions": "0x40810000", "Status": status, "IpAddress": "::ffff:10.0.0.66", "IpPort": "50000",
		})
	}
	services := []string{"svc-sql", "svc-web", "svc-backup", "svc-sp", "svc-crm", "svc-app"}
	roast := func(n int, etype string) []*adjoinv1.Event {
		var out []*adjoinv1.Event
		for i, s := range services[:n] {
			out = append(out, tgs(i, "mallory@CORP.LOCAL", s, etype, "0x0"))
		}
		return out
	}
	ignoring := NewKerberoasting()
	ignoring.IgnoreServices["svc-sql"] = true
	tests := []struct {
		name      string
		events    []*adjoinv1.Event
		detector  *Kerberoasting
		want      []credAccessSummary
		wantTitle string
	}{
		{name: "short hex 0x17", events: roast(1, "0x17"),
			want: []credAccessSummary{{Actor: `corp.local\mallory`, Target: "svc-sql", Source: "10.0.0.66", Computer: "DC1.corp.local", Evidence: 1}}, wantTitle: "RC4-HMAC"},
		{name: "DES is weak too", events: roast(1, "0x3"),
			want: []credAccessSummary{{Actor: `corp.local\mallory`, Target: "svc-sql", Source: "10.0.0.66", Computer: "DC1.corp.local", Evidence: 1}}, wantTitle: "DES-CBC-MD5"},
		{name: "six RC4 tickets are one alert", events: roast(6, "0x00000017"),
			want: []credAccessSummary{{Actor: `corp.local\mallory`, Target: "svc-sql", Source: "10.0.0.66", Computer: "DC1.corp.local", Evidence: 6}}, wantTitle: "RC4-HMAC"},
		{name: "AES tickets for five service accounts in a second", events: roast(5, "0x12"),
			want: []credAccessSummary{{Actor: `corp.local\mallory`, Target: "svc-sql", Source: "10.0.0.66", Computer: "DC1.corp.local", Evidence: 5}}, wantTitle: "many service accounts"},
		{name: "AES tickets for four service accounts", events: roast(4, "0x12")},
		{name: "failed RC4 request", events: []*adjoinv1.Event{tgs(0, "mallory@CORP.LOCAL", "svc-sql", "0x17", "0x1b")}},
		{name: "RC4 ticket for a computer account", events: []*adjoinv1.Event{tgs(0, "mallory@CORP.LOCAL", "FS1$", "0x17", "0x0")}},
		{name: "RC4 ticket for an ignored service", events: roast(1, "0x17"), detector: ignoring},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := tt.detector
			if d == nil {
				d = NewKerberoasting()
			}
			var got []credAccessSummary
			for _, a := range credAccessReplay(d, tt.events) {
				credAccessCheckAlert(t, a, "kerberoasting", "T1558.003")
				got = append(got, credAccessSummarize(a))
				if !strings.Contains(a.GetTitle(), tt.wantTitle) {
					t.Errorf("title %q, want it to say %q", a.GetTitle(), tt.wantTitle)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("alerts = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
