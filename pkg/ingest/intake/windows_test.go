package intake

import (
	"errors"
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

func TestParseWindows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		line       string
		format     string
		wantReason string // "" for success
		wantErr    error
		wantID     int32
		wantFormat string
	}{
		{name: "nxlog", line: lineMinimalNXLog, wantID: 4624, wantFormat: "winevent-nxlog"},
		{name: "nxlog asked as nxlog", line: lineMinimalNXLog, format: "nxlog", wantID: 4624, wantFormat: "winevent-nxlog"},
		{
			name:   "evtx",
			line:   `{"EventID":4769,"Channel":"Security","Computer":"MORDORDC.theshire.local","TimeCreated":"2020-08-05T06:10:02.123Z","EventRecordID":"1","TargetUserName":"pgustavo@THESHIRE.LOCAL"}`,
			format: "evtx", wantID: 4769, wantFormat: "winevent-evtx",
		},
		{name: "not JSON", line: lineNotJSON, wantReason: "not-json", wantErr: winevent.ErrNotJSON},
		{name: "trailing garbage", line: lineMinimalNXLog + " x", wantReason: "not-json", wantErr: winevent.ErrNotJSON},
		{name: "array", line: lineArray, wantReason: "not-object", wantErr: winevent.ErrNotObject},
		{name: "string", line: `"EventID"`, wantReason: "not-object", wantErr: winevent.ErrNotObject},
		{name: "missing EventID", line: lineNoEventID, wantReason: "missing-field", wantErr: winevent.ErrMissingField},
		{name: "empty object", line: `{}`, wantReason: "missing-field", wantErr: winevent.ErrMissingField},
		{
			name:       "EventID not a number",
			line:       `{"EventID":"four","Channel":"Security","Hostname":"MORDORDC","EventTime":"2020-08-05 02:10:02"}`,
			wantReason: "invalid", wantErr: winevent.ErrInvalidField,
		},
		{name: "wrong format", line: lineMinimalNXLog, format: "evtx", wantReason: "wrong-format"},
		{name: "unknown format", line: lineMinimalNXLog, format: "syslog", wantReason: "wrong-format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := ParseWindows([]byte(tt.line), tt.format)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("ParseWindows = %v", err)
				}
				if ev.GetEventId() != tt.wantID || ev.GetFormat() != tt.wantFormat || ev.GetTime() == nil {
					t.Errorf("event = %v, want id %d format %s with a time", ev, tt.wantID, tt.wantFormat)
				}
				if ev.GetId() != "" || ev.GetOrigin() != "" {
					t.Errorf("parser set id %q origin %q; the handler owns them", ev.GetId(), ev.GetOrigin())
				}
				return
			}
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("ParseWindows = %v, want a *LineError", err)
			}
			if le.Reason != tt.wantReason {
				t.Errorf("reason = %q, want %q (%v)", le.Reason, tt.wantReason, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			if ev != nil {
				t.Errorf("event %v returned with an error", ev)
			}
		})
	}
}

func TestEventSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ev   *adjoinv1.Event
		want string
	}{
		{name: "security", ev: &adjoinv1.Event{Channel: "Security", EventId: 4662}, want: "events.dc.security.4662"},
		{name: "lower-case channel as some OTRF hosts write it", ev: &adjoinv1.Event{Channel: "security", EventId: 4624}, want: "events.dc.security.4624"},
		{name: "sysmon", ev: &adjoinv1.Event{Channel: "Microsoft-Windows-Sysmon/Operational", EventId: 3}, want: "events.dc.microsoft-windows-sysmon_operational.3"},
		{name: "channel with dots and spaces", ev: &adjoinv1.Event{Channel: "Directory Service.x", EventId: 2889}, want: "events.dc.directory_service_x.2889"},
		{name: "no channel", ev: &adjoinv1.Event{EventId: 1}, want: "events.dc._.1"},
		{name: "nil event", ev: nil, want: "events.dc._.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := EventSubject("events.dc", tt.ev); got != tt.want {
				t.Errorf("EventSubject = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLineError(t *testing.T) {
	t.Parallel()
	inner := errors.New("bad")
	le := &LineError{Reason: "not-json", Err: inner}
	if le.Error() != "not-json: bad" || !errors.Is(le, inner) {
		t.Errorf("LineError = %q, unwraps to inner: %v", le.Error(), errors.Is(le, inner))
	}
}
