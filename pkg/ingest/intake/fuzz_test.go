package intake

import (
	"errors"
	"testing"
)

// lineFormats are the ?format= values a line parser is called with; "cef" and "samba" stand
// for ParseCEF and ParseSamba, the parsers of the syslog door and of a Samba log.
var lineFormats = []string{"", "nxlog", "powershell", "evtx", "ecs", "zeek", "cef", "samba"}

// lineReasons are the reasons a refused line may be given (the dead-letter subject's last
// token).
var lineReasons = map[string]bool{
	"not-json": true, "not-object": true, "missing-field": true, "invalid": true, "wrong-format": true,
	"not-cef": true, "invalid-cef": true,
	ReasonFieldTooLong: true, ReasonTooManyFields: true, ReasonTimeInFuture: true,
}

// FuzzParseLine checks the per-line parsers of the intake doors, whatever the line and the
// format asked: they never panic; a line is an event (with a format), skipped (ErrSkip), or
// refused with a *LineError of a known reason, never anything else.
func FuzzParseLine(f *testing.F) {
	for i, s := range []string{
		lineMinimalNXLog,
		`{"EventID":4769,"Channel":"Security","Computer":"DC","EventRecordID":"1","TimeCreated":"2020-08-02T11:33:06.523438Z"}`,
		`{"@timestamp":"2020-09-22T02:39:13Z","winlog":{"channel":"Security","computer_name":"DC","event_id":"4768","event_data":{"TicketEncryptionType":"0x17"}}}`,
		`{"_path":"kerberos","ts":1600000000.5,"uid":"C1","id.orig_h":"10.0.0.5","request_type":"TGS","service":"krbtgt/CORP"}`,
		`{"ts":1600000000,"uid":"C2","id.orig_h":"10.0.0.5","id.resp_h":"10.0.0.1","endpoint":"drsuapi","operation":"DRSGetNCChanges"}`,
		`CEF:0|Microsoft|Azure ATP|2.0|DirectoryServicesReplicationSecurityAlert|Suspected DCSync attack|10|start=2020-08-05T06:10:03.000Z suser=pgustavo shost=WORKSTATION5 dhost=MORDORDC externalId=2006`,
		`<13>1 2020-08-05T06:10:03Z host app - - - CEF:0|V|P|1|x|y|5|rt=1596607803000`,
		`  {"timestamp": "2026-11-28T09:56:19.123456+0000", "type": "Authentication", "Authentication": {"eventId": 4625, "status": "NT_STATUS_WRONG_PASSWORD", "clientAccount": "bob", "serviceDescription": "SMB2", "remoteAddress": "ipv4:10.0.0.9:50000"}}`,
		`[2026/11/28 09:54:03.092625,  0] ../../source4/smbd/server.c:621(binary_smbd_main)`,
		`{"EventID":"x"}`, `[1]`, `"s"`, `{`, ``,
	} {
		f.Add([]byte(s), uint8(i))
	}
	f.Fuzz(func(t *testing.T, line []byte, which uint8) {
		format := lineFormats[int(which)%len(lineFormats)]
		var parse Parser = ParseAny
		switch format {
		case "cef":
			parse, format = ParseCEF, ""
		case "samba":
			parse, format = ParseSamba("dc1.corp.example.test"), ""
		}
		ev, err := parse(line, format)
		var le *LineError
		switch {
		case errors.Is(err, ErrSkip):
			if ev != nil {
				t.Fatalf("skipped line came with an event %v", ev)
			}
		case err != nil && !errors.As(err, &le):
			t.Fatalf("error %v (%T) is not a *LineError", err, err)
		case err != nil:
			if ev != nil || !lineReasons[le.Reason] || le.Err == nil {
				t.Fatalf("refusal %q (%v) with event %v", le.Reason, le.Err, ev)
			}
		case ev == nil || ev.GetFormat() == "":
			t.Fatalf("accepted line gave event %v", ev)
		}
	})
}
