package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/cef"
	"github.com/adjoin/adjoin/pkg/ingest/productalert"
	"github.com/adjoin/adjoin/pkg/ingest/syslog"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// Defender for Identity CEF as its SIEM log reference documents it, in both syslog forms: RFC
// 5424 with "CEF" as APP-NAME and no "CEF:" marker, and RFC 3164 with "CEF:" read as a tag.
const (
	mdiCEF     = `0|Microsoft|Azure ATP|2.78.0.0|AccountEnumerationSecurityAlert|Reconnaissance using account enumeration|5|start=2019-05-13T13:54:41.1234567Z app=Kerberos shost=CLIENT1 suser=LMaldonado msg=Suspicious account enumeration activity using the Kerberos protocol, originating from CLIENT1, was observed and successfully guessed Lamon Maldonado (Software Engineer). externalId=2003 cs1Label=url cs1=https://contoso-corp.atp.azure.com/securityAlert/eb6a35da-ff7f-4ab5-a1b5-a07529a89e6d cs2Label=trigger cs2=new`
	mdi5424    = `<132>1 2019-05-13T13:55:00.156238+00:00 MORDORDC CEF 6076 AccountEnumerationSecurityAlert ` + mdiCEF
	cefNumeric = `<134>1 2024-03-01T10:00:00Z fw1 - - - - CEF:0|Vendor|Firewall|1.0|4624|logon|3|dvchost=fw1.corp.test rt=1709287200000 suser=alice`
)

// mdi3164 is another alert (its URL id differs) in the RFC 3164 form.
var mdi3164 = `<132>May 13 13:55:00 MORDORDC CEF:` + strings.Replace(mdiCEF, "eb6a35da", "0b6a35da", 1)

func TestParseCEF(t *testing.T) {
	t.Parallel()
	ev, err := ParseCEF([]byte("CEF:"+mdiCEF), "cef")
	if err != nil {
		t.Fatal(err)
	}
	if ev.GetFormat() != "cef" || ev.GetChannel() != "cef/Microsoft/Azure ATP" || ev.GetEventId() != 0 || ev.GetHost() != "" ||
		!ev.GetTime().AsTime().Equal(time.Date(2019, 5, 13, 13, 54, 41, 123456700, time.UTC)) {
		t.Errorf("event = %v", ev)
	}
	f := ev.GetFields()
	if f["suser"] != "LMaldonado" || f["cs2"] != "new" || f[cef.KeyVendor] != "Microsoft" || f[cef.KeySignatureID] != "AccountEnumerationSecurityAlert" || f[cef.KeySeverity] != "5" {
		t.Errorf("fields = %v", f)
	}
	if got := EventSubject(natsx.SubjectDCEvents, ev); got != "events.dc.cef_microsoft_azure_atp.0" {
		t.Errorf("subject = %s", got)
	}
	ev, err = ParseCEF([]byte(cefNumeric), "")
	if err != nil || ev.GetEventId() != 4624 || ev.GetHost() != "fw1.corp.test" || ev.GetTime().AsTime().UnixMilli() != 1709287200000 {
		t.Errorf("numeric signature = %v, %v", ev, err)
	}
	for _, tt := range []struct {
		line, format, reason string
	}{
		{`{"EventID":4624}`, "", "not-cef"},
		{`CEF:0|V|P|1`, "", "invalid-cef"},
		{`CEF:0|V|P|1|2|N|3|text`, "", "invalid-cef"},
		{"CEF:" + mdiCEF, "nxlog", "wrong-format"},
	} {
		_, err := ParseCEF([]byte(tt.line), tt.format)
		var le *LineError
		if !errors.As(err, &le) || le.Reason != tt.reason {
			t.Errorf("ParseCEF(%q, %q) = %v, want reason %s", tt.line, tt.format, err, tt.reason)
		}
	}
}

func TestSyslogPayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		msg     string
		want    string
		wantCEF bool
	}{
		{"JSON", `<14>1 - h app - - - {"EventID":4624}`, `{"EventID":4624}`, false},
		{"JSON mentioning CEF", `<14>1 - h app - - - {"Message":"CEF:0|a"}`, `{"Message":"CEF:0|a"}`, false},
		{"CEF after a header", cefNumeric, cefNumeric[strings.Index(cefNumeric, "CEF:"):], true},
		{"MDI RFC 5424", mdi5424, "CEF:" + mdiCEF, true},
		{"MDI RFC 3164", mdi3164, "CEF:" + strings.Replace(mdiCEF, "eb6a35da", "0b6a35da", 1), true},
		{"app CEF without a CEF header", `<14>1 - h CEF - - - hello`, `hello`, false},
		{"plain text", `<13>Oct 11 22:14:15 host su: hello`, `hello`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := syslog.ParseMessage([]byte(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			got, parse := syslogPayload(m)
			if string(got) != tt.want || (parse != nil) != tt.wantCEF {
				t.Errorf("payload %q (own parser %v), want %q (%v)", got, parse != nil, tt.want, tt.wantCEF)
			}
		})
	}
}

// startSyslog runs a syslog server publishing through h on a loopback TCP port.
func startSyslog(t *testing.T, h *Handler, maxMessage int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &syslog.Server{TCPListener: ln, Handle: SyslogHandler(h), Log: zaptest.NewLogger(t), MaxMessage: maxMessage}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("syslog Run: %v", err)
		}
	})
	return ln.Addr().String()
}

func octetFrames(msgs ...string) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "%d %s", len(m), m)
	}
	return b.String()
}

// waitStored polls a stream until it holds n messages.
func waitStored(t *testing.T, js jetstream.JetStream, stream string, n int) []*jetstream.RawStreamMsg {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs := storedMsgs(t, js, stream)
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d messages after 10s, want %d", stream, len(msgs), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Windows events as JSON and CEF product alerts over syslog/TCP land on DC_EVENTS like HTTP
// lines; what cannot be read is dead-lettered with the sender's address.
func TestSyslogHandlerEndToEnd(t *testing.T) {
	t.Parallel()
	lines := s1Lines(t)
	srv := natstest.Start(t)
	h := newHandler(t, srv)
	addr := startSyslog(t, h, 64<<10)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	oversized := "<13>1 - h a - - - " + strings.Repeat("x", 70<<10)
	stream := octetFrames(
		"<14>1 2020-08-05T06:10:03Z WEC nxlog - - - "+lines[0].raw,
		mdi5424,
		mdi3164,
		"<13>Oct 11 22:14:15 host su: 'su root' failed",
		oversized,
		lines[1].raw, // no syslog header at all
	)
	if _, err := io.WriteString(c, stream); err != nil {
		t.Fatal(err)
	}

	events := waitStored(t, srv.JS, natsx.StreamDCEvents, 4)
	dead := waitStored(t, srv.JS, natsx.StreamDeadLetter, 2)
	origin := "syslog:tcp:" + c.LocalAddr().String()
	wantSubjects := []string{lines[0].subject, "events.dc.cef_microsoft_azure_atp.0", "events.dc.cef_microsoft_azure_atp.0", lines[1].subject}
	var cefEvents []*adjoinv1.Event
	for i, m := range events {
		var ev adjoinv1.Event
		if err := natsx.Decode(m.Header, m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		if m.Subject != wantSubjects[i] || ev.GetOrigin() != origin {
			t.Errorf("event %d on %s from %q, want %s from %q", i, m.Subject, ev.GetOrigin(), wantSubjects[i], origin)
		}
		if ev.GetFormat() == "cef" {
			cefEvents = append(cefEvents, &ev)
		}
	}
	// The Windows event is the same event the HTTP door stores for the same line.
	var first adjoinv1.Event
	if err := natsx.Decode(events[0].Header, events[0].Data, &first); err != nil || first.GetId() != entity.HashID(lines[0].raw) {
		t.Errorf("Windows event id %s, want the hash of its line", first.GetId())
	}
	if len(cefEvents) != 2 {
		t.Fatalf("%d CEF events, want 2", len(cefEvents))
	}
	mdi := cefEvents[0]
	if mdi.GetHost() != "MORDORDC" || mdi.GetFields()[FieldSyslogHost] != "MORDORDC" ||
		mdi.GetFields()[FieldSyslogTime] != "2019-05-13T13:55:00.156238Z" || mdi.GetId() != entity.HashID("CEF:"+mdiCEF) {
		t.Errorf("MDI event = %v", mdi)
	}

	// The stored event gives the product alert, versioned by the syslog header's time.
	a, err := productalert.FromEvent(mdi)
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Date(2019, 5, 13, 13, 55, 0, 156238000, time.UTC)
	if a.GetProductAlertId() != "eb6a35da-ff7f-4ab5-a1b5-a07529a89e6d" || a.GetSide() != adjoinv1.Side_SIDE_IDENTITY || a.GetVersion() != sent.UnixMilli() {
		t.Errorf("alert = %v", a)
	}

	reasons := map[string]string{}
	for _, m := range dead {
		if got := m.Header.Get(natsx.HeaderOrigin); got != origin {
			t.Errorf("dead letter %s from %q, want %q", m.Subject, got, origin)
		}
		reasons[m.Subject] = string(m.Data)
	}
	if got := reasons["deadletter.dcingest.not-json"]; got != "'su root' failed" {
		t.Errorf("not-json dead letter = %q; have %v", got, keys(reasons))
	}
	if got, ok := reasons["deadletter.dcingest.too-long"]; !ok || len(got) != 4<<10 || !strings.HasPrefix(got, "<13>1 - h a") {
		t.Errorf("too-long dead letter holds %d bytes; have %v", len(got), keys(reasons))
	}

	// The same stream again (a sender resending after a reconnect) stores nothing new.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := io.WriteString(c2, stream+octetFrames(`{"EventID":4624,"Channel":"Security","Hostname":"MORDORDC.theshire.local","EventTime":"2020-08-05 02:10:02","TargetUserName":"marker"}`)); err != nil {
		t.Fatal(err)
	}
	if got := waitStored(t, srv.JS, natsx.StreamDCEvents, 5); len(got) != 5 {
		t.Errorf("DC_EVENTS holds %d events after the resend, want 5 (4 deduplicated + 1 new)", len(got))
	}
	if got := storedMsgs(t, srv.JS, natsx.StreamDeadLetter); len(got) != 2 {
		t.Errorf("DEADLETTER holds %d after the resend, want 2", len(got))
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Without JetStream the handler fails, and the syslog server closes the connection so the
// sender resends.
func TestSyslogHandlerJetStreamDown(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	h := newHandler(t, srv)
	handle := SyslogHandler(h)
	msg, _ := syslog.ParseMessage([]byte("<13>1 - h a - - - " + lineMinimalNXLog))
	if err := handle(context.Background(), []syslog.Message{msg}); err != nil {
		t.Fatalf("handle with JetStream up: %v", err)
	}
	srv.NC.Close()
	if err := handle(context.Background(), []syslog.Message{msg}); err == nil {
		t.Fatal("handle with the connection closed succeeded")
	}

	addr := startSyslog(t, h, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, lineMinimalNXLog2+"\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := c.Read(b[:]); err == nil || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("read = %v, want the connection closed by the server", err)
	}
}

func TestSyslogIngestLines(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	h := newHandler(t, srv)
	h.MaxLineBytes = 300
	long := `{"EventID":4624,"x":"` + strings.Repeat("y", 400) + `"}`
	lines := [][]byte{[]byte(lineMinimalNXLog), []byte("  "), []byte(lineNotJSON), []byte(long), []byte(lineMinimalNXLog2)}
	resp, err := h.IngestLines(context.Background(), lines, "", "file:/var/log/dc.json")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Accepted != 2 || resp.Duplicates != 0 || strings.Join(rejectedLines(resp.Rejected), ",") != "3:not-json,4:too-long" {
		t.Errorf("response = %+v", resp)
	}
	events := storedMsgs(t, srv.JS, natsx.StreamDCEvents)
	if len(events) != 2 {
		t.Fatalf("%d events stored, want 2", len(events))
	}
	var last adjoinv1.Event
	if err := natsx.Decode(events[1].Header, events[1].Data, &last); err != nil || last.GetOrigin() != "file:/var/log/dc.json line 5" {
		t.Errorf("origin %q, want file:/var/log/dc.json line 5", last.GetOrigin())
	}
	dead := storedMsgs(t, srv.JS, natsx.StreamDeadLetter)
	if len(dead) != 2 || dead[1].Subject != "deadletter.dcingest.too-long" || len(dead[1].Data) != len(long) ||
		dead[1].Header.Get(natsx.HeaderOrigin) != "file:/var/log/dc.json line 4" {
		t.Errorf("dead letters = %d, last %s %d bytes", len(dead), dead[len(dead)-1].Subject, len(dead[len(dead)-1].Data))
	}

	// Sent again: all deduplicated.
	resp, err = h.IngestLines(context.Background(), lines, "", "file:/var/log/dc.json")
	if err != nil || resp.Accepted != 2 || resp.Duplicates != 2 {
		t.Errorf("resend = %+v, %v; want 2 accepted, both duplicates", resp, err)
	}
	if got := storedMsgs(t, srv.JS, natsx.StreamDeadLetter); len(got) != 2 {
		t.Errorf("DEADLETTER holds %d after the resend, want 2", len(got))
	}
}
