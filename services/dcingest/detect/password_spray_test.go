package detect

import (
	"fmt"
	"slices"
	"testing"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestPasswordSprayOnRecordings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		want []credAccessSummary // in order of first event
	}{
		{
			// Kerbrute passwordspray over the directory's user list: 22 existing accounts
			// fail pre-authentication (4771 0x18) and 15 disabled ones are refused (4768
			// 0x12), all from 10.23.123.11 within 10 s. Three accounts get a TGT with
			// pre-authentication (4768 PreAuthType 2): the sprayed password was theirs.
			name: "S13 Kerbrute spray from 10.23.123.11 and the accounts it cracked",
			file: credAccessKerbruteFile,
			want: []credAccessSummary{
				{Target: "administrator", Source: "10.23.123.11", Computer: "rootdc1.offsec.lan", Evidence: 37},
				{Actor: `offsec.lan\admmig`, Source: "10.23.123.11", Computer: "rootdc1.offsec.lan", Evidence: 1},
				{Actor: `offsec.lan\hack1`, Source: "10.23.123.11", Computer: "rootdc1.offsec.lan", Evidence: 1},
				{Actor: `offsec.lan\dsrm`, Source: "10.23.123.11", Computer: "rootdc1.offsec.lan", Evidence: 1},
			},
		},
		{
			name: "S13 brute force on one account is not a spray",
			file: credAccessBruteForceFile,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := credAccessRun(t, tt.file, NewPasswordSpray())
			var got []credAccessSummary
			for _, a := range alerts {
				credAccessCheckAlert(t, a, "password-spray", "T1110.003")
				got = append(got, credAccessSummarize(a))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("alerts = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestPasswordSprayKerbruteAlertContent(t *testing.T) {
	t.Parallel()
	alerts := credAccessRun(t, credAccessKerbruteFile, NewPasswordSpray())
	if len(alerts) != 4 {
		t.Fatalf("%d alerts, want 4", len(alerts))
	}
	spray := alerts[0]
	var targets []string
	for _, e := range spray.GetEntities() {
		if e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_TARGET && e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_USER {
			targets = append(targets, e.GetSamAccountName())
		}
	}
	// The alert is raised at the fifth distinct account (FastThreshold); merged with the later events of the
	// episode it names every distinct account the spray touched (36 in 37 refusals).
	if len(targets) != 36 || !slices.Contains(targets, "svc-ata") || !slices.Contains(targets, "admin-hacker") {
		t.Errorf("target accounts = %v", targets)
	}
	if got := spray.GetFirstActivity().AsTime(); !got.Equal(time.Date(2021, 12, 3, 12, 6, 3, 488712000, time.UTC)) {
		t.Errorf("first activity = %v, want the first refused 4768", got)
	}
	if got := spray.GetLastActivity().AsTime(); !got.Equal(time.Date(2021, 12, 3, 12, 6, 12, 900806000, time.UTC)) {
		t.Errorf("last activity = %v, want the last 4771", got)
	}
	if spray.GetSeverity() != adjoinv1.Severity_SEVERITY_MEDIUM {
		t.Errorf("spray severity = %v", spray.GetSeverity())
	}
	for _, a := range alerts[1:] {
		if a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH || a.GetEvidence()[0].GetEventId() != "4768" {
			t.Errorf("success alert: %v", a)
		}
	}
}

// No recording has a slow NTLM spray, so these events are hand-written: 4776 failures on a
// DC for distinct accounts from one workstation name, one every 20 s (under the fast tier's 5
// a minute), and the failed logons (4625) a member server writes.
func TestPasswordSprayNTLM(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	const every = 20 * time.Second
	ntlm := func(i int, user, status string) *adjoinv1.Event {
		return credAccessEvent(4776, "DC1.corp.local", t0.Add(time.Duration(i)*every), int64(1000+i),
			map[string]string{"TargetUserName": user, "Workstation": "KALI", "Status": status, "PackageName": "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"})
	}
	logon := func(i int, user, sub string) *adjoinv1.Event {
		return credAccessEvent(4625, "FS1.corp.local", t0.Add(time.Duration(i)*every), int64(2000+i),
			map[string]string{"TargetUserName": user, "TargetDomainName": "CORP", "Status": "0xc000006d", "SubStatus": sub,
				"LogonType": "3", "IpAddress": "10.0.0.66", "WorkstationName": "KALI", "SubjectUserSid": "S-1-0-0", "SubjectUserName": "-"})
	}
	var nine, ten, unknown, hosts []*adjoinv1.Event
	for i := range 10 {
		user := fmt.Sprintf("user%d", i)
		if i < 9 {
			nine = append(nine, ntlm(i, user, "0xc000006a"))
		}
		ten = append(ten, ntlm(i, user, "0xC000006A"))
		// Names that do not exist are account enumeration, not a spray.
		unknown = append(unknown, ntlm(i, user, "0xc0000064"), logon(i, user, "0xc0000064"))
		hosts = append(hosts, logon(i, user, "0xc000006a"))
	}
	success := ntlm(11, "user3", "0x0")
	tests := []struct {
		name   string
		events []*adjoinv1.Event
		want   []credAccessSummary
	}{
		{name: "nine accounts stay under the threshold", events: nine},
		{name: "ten accounts from one workstation name", events: ten,
			want: []credAccessSummary{{Target: "user0", Source: "kali", Computer: "DC1.corp.local", Evidence: 10}}},
		{name: "unknown names are not counted", events: unknown},
		{name: "failed network logons on a member server", events: hosts,
			want: []credAccessSummary{{Target: "user0", Source: "10.0.0.66", Computer: "FS1.corp.local", Evidence: 10}}},
		{name: "a success from the spraying workstation after the threshold", events: append(slices.Clone(ten), success),
			want: []credAccessSummary{
				{Target: "user0", Source: "kali", Computer: "DC1.corp.local", Evidence: 10},
				{Actor: `\user3`, Source: "kali", Computer: "DC1.corp.local", Evidence: 1},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []credAccessSummary
			for _, a := range credAccessReplay(NewPasswordSpray(), tt.events) {
				credAccessCheckAlert(t, a, "password-spray", "T1110.003")
				got = append(got, credAccessSummarize(a))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("alerts = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
