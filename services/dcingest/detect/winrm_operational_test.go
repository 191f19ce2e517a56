package detect

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// winrmOpEvent is hand-written: no recording in shared/data keeps the WinRM Operational log
// (the OTRF files were filtered to Security, System and Sysmon). Field names are the EVTX ones.
func winrmOpEvent(channel string, id int32, s int, f map[string]string) *adjoinv1.Event {
	return &adjoinv1.Event{Channel: channel, EventId: id, Host: "WS6.corp.example",
		Time: timestamppb.New(time.Date(2024, 5, 1, 12, 0, s, 0, time.UTC)), Fields: f}
}

func TestWinRMOperationalHandWritten(t *testing.T) {
	t.Parallel()
	auth := winrmOpEvent(winrmOperationalChannel, 169, 0, map[string]string{"username": `CORP\eve`, "authenticationMechanism": "Kerberos"})
	shell := winrmOpEvent(winrmOperationalChannel, 91, 1, map[string]string{"resourceUri": "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"})
	machine := winrmOpEvent(winrmOperationalChannel, 169, 0, map[string]string{"username": `CORP\WS1$`, "authenticationMechanism": "Kerberos"})
	logon := winrmOpEvent("Security", 4624, 1, map[string]string{"LogonType": "3", "TargetUserName": "eve", "TargetDomainName": "CORP", "TargetLogonId": "0x5555"})
	withCaller := winrmOpEvent(winrmOperationalChannel, 91, 1, map[string]string{
		"resourceUri": `http://schemas.microsoft.com/powershell/Microsoft.PowerShell (CORP\mallory clientIP: 10.0.0.9)`, "shellId": "4CB2EDD9"})
	winrs := winrmOpEvent("Microsoft-Windows-Sysmon/Operational", 1, 2, map[string]string{"Image": `C:\Windows\System32\winrshost.exe`, "LogonId": "0x5555", "User": `CORP\eve`})
	tests := []struct {
		name   string
		events []*adjoinv1.Event
		want   int
		actor  string
	}{
		{"169 then 91: one alert naming the user", []*adjoinv1.Event{auth, shell}, 1, "eve"},
		{"91 alone: an alert without a user", []*adjoinv1.Event{shell}, 1, ""},
		{"a computer account's 169 names nobody", []*adjoinv1.Event{machine, shell}, 1, ""},
		{"a URI naming its caller and address (recent Windows)", []*adjoinv1.Event{auth, withCaller}, 1, "mallory"},
		{"only the rendered messages", []*adjoinv1.Event{
			winrmOpEvent(winrmOperationalChannel, 169, 0, map[string]string{"Message": `User CORP\trent authenticated successfully using Kerberos authentication`}),
			winrmOpEvent(winrmOperationalChannel, 91, 1, map[string]string{"Message": "Creating WSMan shell on server with ResourceUri: http://schemas.microsoft.com/powershell/Microsoft.PowerShell"})}, 1, "trent"},
		{"169 alone raises nothing", []*adjoinv1.Event{auth}, 0, ""},
		{"91 and the winrshost.exe session of the same shell: one alert", []*adjoinv1.Event{auth, shell, logon, winrs}, 1, "eve"},
		{"winrshost.exe in a network logon", []*adjoinv1.Event{logon, winrs}, 1, "eve"},
	}
	for _, tt := range tests {
		got := adjRunEvents([]detection.Detector{NewWinRMRemoteShell()}, tt.events)
		if len(got) != tt.want {
			t.Errorf("%s: %d alerts, want %d", tt.name, len(got), tt.want)
			continue
		}
		if tt.want == 1 {
			u := adjRef(got[0], adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
			if u.GetSamAccountName() != tt.actor || got[0].GetMitreTechniques()[0] != "T1021.006" {
				t.Errorf("%s: actor %v, want %q", tt.name, u, tt.actor)
			}
		}
	}
}

func TestWinRMOperationalBound(t *testing.T) {
	t.Parallel()
	d := NewWinRMRemoteShell()
	d.MaxSessions = 2
	for i := range 5 {
		ev := winrmOpEvent(winrmOperationalChannel, 169, i, map[string]string{"username": `CORP\eve`})
		ev.Host = "host" + itoa(int32(i))
		d.Detect(ev)
	}
	if d.auths.Len() != 2 {
		t.Fatalf("auths = %d, want the bound 2", d.auths.Len())
	}
}

func TestWinRMCaller(t *testing.T) {
	t.Parallel()
	for uri, want := range map[string][2]string{
		`http://schemas.microsoft.com/powershell/Microsoft.PowerShell (CORP\eve clientIP: 10.0.0.9)`:   {`CORP\eve`, "10.0.0.9"},
		`http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd (eve@corp.example clientIP: ::1)`: {"eve@corp.example", "::1"},
		`http://schemas.microsoft.com/powershell/Microsoft.PowerShell`:                                 {"", ""},
	} {
		if a, ip := winrmCaller(uri); a != want[0] || ip != want[1] {
			t.Errorf("winrmCaller(%q) = %q, %q; want %q", uri, a, ip, want)
		}
	}
}
