package detect

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// rdpLogon is a hand-written 4624 type 10: no recording in shared/data holds an RDP logon.
func rdpLogon(minute int, host, user, ip string) *adjoinv1.Event {
	return &adjoinv1.Event{Channel: "Security", EventId: 4624, Host: host,
		Time: timestamppb.New(time.Date(2024, 5, 1, 9, minute, 0, 0, time.UTC)),
		Fields: map[string]string{"LogonType": "10", "TargetUserName": user, "TargetDomainName": "CORP", "IpAddress": ip, "WorkstationName": "-",
			"TargetLogonId": "0x1234"}}
}

// rdpTS is a hand-written TerminalServices event on srv1 (UserData fields as converters name
// them).
func rdpTS(channel string, id int32, minute int, f map[string]string) *adjoinv1.Event {
	return &adjoinv1.Event{Channel: channel, EventId: id, Host: "srv1.corp.example",
		Time: timestamppb.New(time.Date(2024, 5, 1, 9, minute, 0, 0, time.UTC)), Fields: f}
}

func TestRDPUnusualSourceHandWritten(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		events []*adjoinv1.Event
		want   []string // substrings of each alert's description, in order
	}{
		{"an admin's usual jump host, every day", []*adjoinv1.Event{
			rdpLogon(0, "srv1.corp.example", "adm", "10.0.0.5"), rdpLogon(5, "srv2.corp.example", "adm", "10.0.0.5")}, nil},
		{"first RDP logon of an account is learnt", []*adjoinv1.Event{rdpLogon(0, "srv1.corp.example", "bob", "10.0.0.7")}, nil},
		{"a new source for an account with a habit", []*adjoinv1.Event{
			rdpLogon(0, "srv1.corp.example", "adm", "10.0.0.5"), rdpLogon(3, "srv1.corp.example", "adm", "10.9.9.9"),
			rdpLogon(4, "srv2.corp.example", "adm", "10.9.9.9")}, []string{"never used"}},
		{"tunnelled through loopback", []*adjoinv1.Event{rdpLogon(0, "srv1.corp.example", "eve", "127.0.0.1")}, []string{"loopback"}},
		{"one source hopping to three hosts", []*adjoinv1.Event{
			rdpLogon(0, "srv1.corp.example", "eve", "10.0.0.66"), rdpLogon(1, "srv2.corp.example", "eve", "10.0.0.66"),
			rdpLogon(2, "srv3.corp.example", "eve", "10.0.0.66")}, []string{"3 hosts"}},
		{"a computer account", []*adjoinv1.Event{rdpLogon(0, "srv1.corp.example", "WS1$", "127.0.0.1")}, nil},
		{"TerminalServices only: 1149 and 21 of a new source are one alert", []*adjoinv1.Event{
			rdpTS(rdpRCMChannel, 1149, 0, map[string]string{"Param1": "adm", "Param2": "CORP", "Param3": "10.0.0.5"}),
			rdpTS(rdpRCMChannel, 1149, 10, map[string]string{"Param1": "adm", "Param2": "CORP", "Param3": "10.7.7.7"}),
			rdpTS(rdpLSMChannel, 21, 10, map[string]string{"User": `CORP\adm`, "SessionID": "3", "Address": "10.7.7.7"}),
			rdpLogon(10, "srv1.corp.example", "adm", "10.7.7.7")}, []string{"never used"}},
		{"a console session (Address LOCAL)", []*adjoinv1.Event{
			rdpTS(rdpLSMChannel, 21, 0, map[string]string{"User": `CORP\adm`, "Address": "10.0.0.5"}),
			rdpTS(rdpLSMChannel, 21, 5, map[string]string{"User": `CORP\adm`, "Address": "LOCAL"})}, nil},
	}
	for _, tt := range tests {
		got := adjRunEvents([]detection.Detector{NewRDPUnusualSource()}, tt.events)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %d alerts, want %d", tt.name, len(got), len(tt.want))
			continue
		}
		for i, w := range tt.want {
			adjCheckCommon(t, got[i], "rdp-logon-unusual-source")
			if !strings.Contains(got[i].GetDescription(), w) || got[i].GetMitreTechniques()[0] != "T1021.001" ||
				adjRef(got[i], adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR) == nil {
				t.Errorf("%s: alert %q", tt.name, got[i].GetDescription())
			}
		}
	}
}

func TestRDPUnusualSourceOnRecordings(t *testing.T) {
	t.Parallel()
	// No recording holds a type 10 logon: every one of them, the background included, is a
	// negative control (the detector must not read other logon types).
	for _, file := range append(adjSampleFiles(t), adjBackground) {
		for _, a := range adjRun(t, []detection.Detector{NewRDPUnusualSource()}, file) {
			t.Errorf("%s: unexpected alert %s", file, a.GetDescription())
		}
	}
}

func TestRDPUnusualSourceBounds(t *testing.T) {
	t.Parallel()
	d := NewRDPUnusualSource()
	d.MaxAccounts, d.MaxSources = 3, 2
	for i := range 10 {
		d.Detect(rdpLogon(i, "srv1.corp.example", "u"+itoa(int32(i)), "10.0.0.1"))
	}
	if d.seen.Len() != 3 {
		t.Errorf("accounts = %d, want the bound 3", d.seen.Len())
	}
	d = NewRDPUnusualSource()
	d.MaxSources = 2
	for i := range 10 {
		d.Detect(rdpLogon(i, "srv1.corp.example", "adm", "10.0.1."+itoa(int32(i))))
	}
	if s, _ := d.seen.Get("adm"); len(s) != 2 {
		t.Errorf("adm sources = %d, want the bound 2", len(s))
	}
}
