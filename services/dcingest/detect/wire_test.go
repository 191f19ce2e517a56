package detect

import (
	"strconv"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/wire"
)

// wireEvent is a hand-written record of the DC traffic sensor, as wire.Record.Event makes it.
func wireEvent(log string, t time.Time, src string, fields map[string]string) *adjoinv1.Event {
	f := map[string]string{"id.orig_h": src, "id.orig_p": "50000", "id.resp_h": "172.18.38.5", "id.resp_p": "88", "uid": "W" + src}
	for k, v := range fields {
		f[k] = v
	}
	return wire.Record{Log: log, Time: t, Fields: f}.Event("")
}

// runAll runs a detector over events and merges what it raised, as adjoin detect does.
func runAll(d detection.Detector, evs []*adjoinv1.Event) []*adjoinv1.Alert {
	var out []*adjoinv1.Alert
	for _, ev := range evs {
		out = append(out, d.Detect(ev)...)
	}
	return detection.Merge(out)
}

var wireT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// asReq is an AS exchange of user with the etypes offered, pre-authentication and outcome.
func asReq(user, etypes, preauth, success, replyCipher string) map[string]string {
	f := map[string]string{"request_type": "AS", "client": user + "/THESHIRE.LOCAL", "service": "krbtgt/THESHIRE.LOCAL",
		"req_etypes": etypes, "preauth": preauth, "success": success}
	if success == "T" {
		f["cipher"], f["reply_cipher"] = "aes256-cts-hmac-sha1-96", replyCipher
	} else {
		f["error_msg"] = "KDC_ERR_PREAUTH_FAILED"
	}
	return f
}

func TestWireKerberosDetectors(t *testing.T) {
	t.Parallel()
	windows := "18,17,23,24,-135"
	tests := []struct {
		name     string
		d        func() detection.Detector
		fields   []map[string]string
		want     int
		wantUser string
	}{
		{"AS-REP roasting: no pre-auth, RC4 reply", func() detection.Detector { return NewWireASREPRoasting() },
			[]map[string]string{asReq("svc-legacy", "23", "F", "T", "rc4-hmac")}, 1, "svc-legacy"},
		{"AS-REP roasting: pre-auth sent", func() detection.Detector { return NewWireASREPRoasting() },
			[]map[string]string{asReq("pgustavo", windows, "T", "T", "aes256-cts-hmac-sha1-96")}, 0, ""},
		{"AS-REP roasting: computer account", func() detection.Detector { return NewWireASREPRoasting() },
			[]map[string]string{asReq("ws5$", windows, "F", "T", "aes256-cts-hmac-sha1-96")}, 0, ""},
		{"overpass-the-hash: RC4 only with pre-auth", func() detection.Detector { return NewWireOverpassTheHash() },
			[]map[string]string{asReq("pgustavo", "23", "T", "T", "rc4-hmac")}, 1, "pgustavo"},
		{"overpass-the-hash: Windows etype list", func() detection.Detector { return NewWireOverpassTheHash() },
			[]map[string]string{asReq("pgustavo", windows, "T", "T", "aes256-cts-hmac-sha1-96")}, 0, ""},
		{"Kerberoasting: RC4 only for a user SPN", func() detection.Detector { return NewWireKerberoasting() },
			[]map[string]string{{"request_type": "TGS", "client": "pgustavo/THESHIRE.LOCAL", "service": "MSSQLSvc/db01.theshire.local", "req_etypes": "23", "success": "T", "cipher": "rc4-hmac"}}, 1, "pgustavo"},
		{"Kerberoasting: RC4 only for a host service", func() detection.Detector { return NewWireKerberoasting() },
			[]map[string]string{{"request_type": "TGS", "client": "pgustavo/THESHIRE.LOCAL", "service": "cifs/ws6.theshire.local", "req_etypes": "23", "success": "T"}}, 0, ""},
		{"Kerberoasting: AES offered", func() detection.Detector { return NewWireKerberoasting() },
			[]map[string]string{{"request_type": "TGS", "client": "pgustavo/THESHIRE.LOCAL", "service": "MSSQLSvc/db01", "req_etypes": windows, "success": "T"}}, 0, ""},
		{"Zeek kerberos.log has no req_etypes", func() detection.Detector { return NewWireOverpassTheHash() },
			[]map[string]string{{"request_type": "AS", "client": "pgustavo/THESHIRE.LOCAL", "cipher": "rc4-hmac", "success": "T"}}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var evs []*adjoinv1.Event
			for i, f := range tt.fields {
				evs = append(evs, wireEvent("kerberos", wireT0.Add(time.Duration(i)*time.Second), "172.18.39.6", f))
			}
			got := runAll(tt.d(), evs)
			if len(got) != tt.want {
				t.Fatalf("%d alerts, want %d: %v", len(got), tt.want, got)
			}
			if tt.want > 0 && got[0].GetEntities()[0].GetSamAccountName() != tt.wantUser {
				t.Errorf("entities %v, want user %s", got[0].GetEntities(), tt.wantUser)
			}
		})
	}
}

// TestWireKerberosPreauthFailures: nine failures of one account stay quiet, the tenth is a
// brute force; five accounts failing from one source is a spray, four are not.
func TestWireKerberosPreauthFailures(t *testing.T) {
	t.Parallel()
	fail := func(user string, i int, src string) *adjoinv1.Event {
		return wireEvent("kerberos", wireT0.Add(time.Duration(i)*time.Second), src, asReq(user, "18,17,23", "T", "F", ""))
	}
	var brute []*adjoinv1.Event
	for i := range 9 {
		brute = append(brute, fail("admin-hacker", i, "10.0.0.9"))
	}
	d := NewWireKerberosPreauthFailures()
	if got := runAll(d, brute); len(got) != 0 {
		t.Fatalf("9 failures: %v", got)
	}
	if got := d.Detect(fail("admin-hacker", 9, "10.0.0.9")); len(got) != 1 || got[0].GetMitreTechniques()[0] != "T1110.001" {
		t.Fatalf("10th failure: %v", got)
	}
	var spray []*adjoinv1.Event
	for i := range 4 {
		spray = append(spray, fail("user"+strconv.Itoa(i), i, "10.0.0.7"))
	}
	d = NewWireKerberosPreauthFailures()
	if got := runAll(d, spray); len(got) != 0 {
		t.Fatalf("4 accounts: %v", got)
	}
	got := d.Detect(fail("user4", 5, "10.0.0.7"))
	if len(got) != 1 || got[0].GetMitreTechniques()[0] != "T1110.003" {
		t.Fatalf("5th account: %v", got)
	}
}

// TestWireZerologon: a secure channel authenticates once; the exploit's retries alert once.
func TestWireZerologon(t *testing.T) {
	t.Parallel()
	call := func(i int, op string) *adjoinv1.Event {
		return wireEvent("dce_rpc", wireT0.Add(time.Duration(i)*10*time.Millisecond), "172.18.39.9",
			map[string]string{"endpoint": "netlogon", "operation": op})
	}
	d := NewWireZerologon()
	if got := runAll(d, []*adjoinv1.Event{call(0, "NetrServerReqChallenge"), call(1, "NetrServerAuthenticate3")}); len(got) != 0 {
		t.Fatalf("one secure channel: %v", got)
	}
	var exploit []*adjoinv1.Event
	for i := range 200 {
		exploit = append(exploit, call(2*i+10, "NetrServerReqChallenge"), call(2*i+11, "NetrServerAuthenticate3"))
	}
	got := runAll(d, exploit)
	if len(got) != 1 || got[0].GetMitreTechniques()[0] != "T1210" {
		t.Fatalf("200 attempts: %d alerts %v", len(got), got)
	}
}
