package syslog

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// Defender for Identity's documented RFC 5424 form: APP-NAME "CEF", PROCID, MSGID, and no
// STRUCTURED-DATA before the CEF payload (which lacks its "CEF:" marker).
const mdi5424 = `<36>1 2022-11-22T22:08:22.221058+00:00 Hostname1 CEF 10912 RemoteExecutionSecurityAlert 0|Microsoft|Azure ATP|2.194.15869.60621|RemoteExecutionSecurityAlert|Remote code execution attempt|5|start=2022-11-22T22:05:10.8398810Z app=Wmi shost=Hostname2 externalId=2019`

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

func TestParseMessage(t *testing.T) {
	t.Parallel()
	now := mustTime(t, "2003-10-20T00:00:00Z")
	tests := []struct {
		name    string
		in      string
		now     time.Time
		want    Message
		wantErr error
	}{
		{
			name: "RFC 5424 example 1 with BOM",
			in:   "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8",
			want: Message{Facility: 4, Severity: 2, Time: mustTime(t, "2003-10-11T22:14:15.003Z"), Host: "mymachine.example.com", App: "su",
				Msg: []byte("'su root' failed for lonvick on /dev/pts/8")},
		},
		{
			name: "RFC 5424 with structured data",
			in:   `<165>1 2003-10-11T22:14:15.003-07:00 mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry...`,
			want: Message{Facility: 20, Severity: 5, Time: mustTime(t, "2003-10-12T05:14:15.003Z"), Host: "mymachine.example.com", App: "evntslog",
				Msg: []byte("An application event log entry...")},
		},
		{
			name: "RFC 5424 structured data only",
			in:   `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"][examplePriority@32473 class="high"]`,
			want: Message{Facility: 20, Severity: 5, Time: mustTime(t, "2003-10-11T22:14:15.003Z"), Host: "mymachine.example.com", App: "evntslog"},
		},
		{
			name: "RFC 5424 escaped bracket and quote in a parameter",
			in:   `<14>1 - host app - - [a@1 x="q\]z\"y"] {"EventID":4624}`,
			want: Message{Facility: 1, Severity: 6, Host: "host", App: "app", Msg: []byte(`{"EventID":4624}`)},
		},
		{
			name: "Defender for Identity without structured data",
			in:   mdi5424 + "\r\n",
			want: Message{Facility: 4, Severity: 4, Time: mustTime(t, "2022-11-22T22:08:22.221058Z"), Host: "Hostname1", App: "CEF",
				Msg: []byte(mdi5424[bytes.Index([]byte(mdi5424), []byte("0|Microsoft")):])},
		},
		{
			name: "RFC 5424 ending after MSGID",
			in:   `<14>1 2003-10-11T22:14:15Z host app 12 id`,
			want: Message{Facility: 1, Severity: 6, Time: mustTime(t, "2003-10-11T22:14:15Z"), Host: "host", App: "app"},
		},
		{
			name: "RFC 5424 JSON that is not structured data",
			in:   `<14>1 2003-10-11T22:14:15Z host app - - [{"a":1}]`,
			want: Message{Facility: 1, Severity: 6, Time: mustTime(t, "2003-10-11T22:14:15Z"), Host: "host", App: "app", Msg: []byte(`[{"a":1}]`)},
		},
		{
			name:    "RFC 5424 bad timestamp",
			in:      `<14>1 yesterday host app - - - hello`,
			want:    Message{Facility: 1, Severity: 6, Msg: []byte(`<14>1 yesterday host app - - - hello`)},
			wantErr: ErrInvalid,
		},
		{
			name:    "RFC 5424 truncated header",
			in:      `<14>1 2003-10-11T22:14:15Z host`,
			want:    Message{Facility: 1, Severity: 6, Msg: []byte(`<14>1 2003-10-11T22:14:15Z host`)},
			wantErr: ErrInvalid,
		},
		{
			name: "RFC 3164 example",
			in:   `<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8`,
			want: Message{Facility: 4, Severity: 2, Time: mustTime(t, "2003-10-11T22:14:15Z"), Host: "mymachine", App: "su",
				Msg: []byte("'su root' failed for lonvick on /dev/pts/8")},
		},
		{
			name: "RFC 3164 with pid and space-padded day",
			in:   `<13>Feb  5 17:32:18 10.0.0.99 sshd[1234]: Accepted password for alice`,
			want: Message{Facility: 1, Severity: 5, Time: mustTime(t, "2003-02-05T17:32:18Z"), Host: "10.0.0.99", App: "sshd",
				Msg: []byte("Accepted password for alice")},
		},
		{
			name: "RFC 3164 December message read in January",
			in:   `<13>Dec 31 23:59:00 host app: late`,
			now:  mustTime(t, "2024-01-01T00:10:00Z"),
			want: Message{Facility: 1, Severity: 5, Time: mustTime(t, "2023-12-31T23:59:00Z"), Host: "host", App: "app", Msg: []byte("late")},
		},
		{
			name: "RFC 3164 without hostname",
			in:   `<13>Oct 11 22:14:15 su: hi`,
			want: Message{Facility: 1, Severity: 5, Time: mustTime(t, "2003-10-11T22:14:15Z"), App: "su", Msg: []byte("hi")},
		},
		{
			name: "RFC 3164 Defender for Identity",
			in:   `<132>May 13 13:55:00 TESTMACHINE CEF:0|Microsoft|Azure ATP|2.78.0.0|AccountEnumerationSecurityAlert|x|5|externalId=2003`,
			now:  mustTime(t, "2019-05-14T00:00:00Z"),
			want: Message{Facility: 16, Severity: 4, Time: mustTime(t, "2019-05-13T13:55:00Z"), Host: "TESTMACHINE", App: "CEF",
				Msg: []byte("0|Microsoft|Azure ATP|2.78.0.0|AccountEnumerationSecurityAlert|x|5|externalId=2003")},
		},
		{
			name: "RFC 3164 with year and milliseconds",
			in:   `<13>Oct 11 2022 22:14:15.123 host app: x`,
			want: Message{Facility: 1, Severity: 5, Time: mustTime(t, "2022-10-11T22:14:15.123Z"), Host: "host", App: "app", Msg: []byte("x")},
		},
		{
			name: "RFC 3164 with an RFC 3339 timestamp",
			in:   `<13>2024-03-01T10:00:00+01:00 host app: x`,
			want: Message{Facility: 1, Severity: 5, Time: mustTime(t, "2024-03-01T09:00:00Z"), Host: "host", App: "app", Msg: []byte("x")},
		},
		{
			name: "RFC 3164 message that is no tag",
			in:   `<13>Oct 11 22:14:15 host just some text`,
			want: Message{Facility: 1, Severity: 5, Time: mustTime(t, "2003-10-11T22:14:15Z"), Host: "host", Msg: []byte("just some text")},
		},
		{
			name: "RFC 3164 without timestamp",
			in:   `<13>just a message`,
			want: Message{Facility: 1, Severity: 5, Msg: []byte("just a message")},
		},
		{
			name: "no header: JSON",
			in:   `{"EventID":4624,"Channel":"Security"}` + "\n",
			want: Message{Facility: 1, Severity: 5, Msg: []byte(`{"EventID":4624,"Channel":"Security"}`)},
		},
		{
			name: "no header: XML",
			in:   `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"/>`,
			want: Message{Facility: 1, Severity: 5, Msg: []byte(`<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"/>`)},
		},
		{
			name:    "PRI out of range",
			in:      `<192>Oct 11 22:14:15 host app: x`,
			want:    Message{Facility: 1, Severity: 5, Msg: []byte(`<192>Oct 11 22:14:15 host app: x`)},
			wantErr: ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			at := now
			if !tt.now.IsZero() {
				at = tt.now
			}
			got, err := parse([]byte(tt.in), at)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("parse error = %v, want %v", err, tt.wantErr)
			}
			if want := bytes.TrimRight([]byte(tt.in), "\r\n"); !bytes.Equal(got.Raw, want) {
				t.Errorf("Raw = %q, want %q", got.Raw, want)
			}
			got.Raw = nil
			if got.Facility != tt.want.Facility || got.Severity != tt.want.Severity || !got.Time.Equal(tt.want.Time) ||
				got.Host != tt.want.Host || got.App != tt.want.App || !bytes.Equal(got.Msg, tt.want.Msg) {
				t.Errorf("parse =\n%+v\nwant\n%+v\nmsg %q want %q", got, tt.want, got.Msg, tt.want.Msg)
			}
		})
	}
}

func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		mdi5424,
		`<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed`,
		`<165>1 2003-10-11T22:14:15.003Z h evntslog - ID47 [exampleSDID@32473 iut="3" x="a\"b\]c"][p@1 c="h"] msg`,
		`<34>Oct 11 22:14:15 mymachine su: 'su root' failed`,
		`<13>Feb  5 17:32:18 10.0.0.99 sshd[1234]: Accepted`,
		`<13>Oct 11 2022 22:14:15.123 host app: x`,
		`<13>2024-03-01T10:00:00+01:00 host app: x`,
		`{"EventID":4624}`,
		`<0>`, `<191>1 - - - - -`, `<7>1 -`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parse(b, now)
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v is not ErrInvalid", err)
		}
		if m.Facility < 0 || m.Facility > 23 || m.Severity < 0 || m.Severity > 7 {
			t.Fatalf("facility %d severity %d", m.Facility, m.Severity)
		}
		if !bytes.Equal(m.Raw, bytes.TrimRight(b, "\r\n\x00")) {
			t.Fatalf("Raw %q is not the trimmed input", m.Raw)
		}
		if len(m.Msg) > 0 && !bytes.Contains(m.Raw, m.Msg) {
			t.Fatalf("Msg %q is not part of Raw %q", m.Msg, m.Raw)
		}
		if err != nil && !bytes.Equal(m.Msg, m.Raw) {
			t.Fatalf("on error Msg %q, want the whole message", m.Msg)
		}
		if !m.Time.IsZero() && m.Time.Location() != time.UTC {
			t.Fatalf("time %v not in UTC", m.Time)
		}
	})
}
