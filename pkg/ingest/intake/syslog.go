package intake

import (
	"bytes"
	"context"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/syslog"
)

// Fields a syslog-borne CEF event gets from the syslog header, besides its own. FieldSyslogTime
// lets package productalert give a re-sent product alert a newer version.
const (
	FieldSyslogTime = "syslog.time" // RFC 3339, UTC
	FieldSyslogHost = "syslog.host"
)

// SyslogHandler returns the Handle function of a syslog.Server that publishes every message
// the way the HTTP door publishes a line: a JSON payload goes through h.Parse (Windows events
// as JSON), a CEF payload through ParseCEF, anything else through h.Parse too, which refuses
// it. Refused and oversized messages are dead-lettered with origin "syslog:<transport>:<addr>".
//
// It returns nil once JetStream acknowledged every event and dead-letter copy of the batch,
// and an error otherwise, on which the syslog server closes a TCP connection so that the
// sender resends. Event ids are hashes of the payload, so what is resent is stored once.
func SyslogHandler(h *Handler) func(ctx context.Context, msgs []syslog.Message) error {
	return func(ctx context.Context, msgs []syslog.Message) error {
		items := make([]lineItem, 0, len(msgs))
		for _, m := range msgs {
			origin := "syslog"
			if m.Remote != "" {
				origin += ":" + m.Remote
			}
			if m.Oversize > 0 {
				items = append(items, lineItem{raw: m.Raw, origin: origin, tooLong: m.Oversize})
				continue
			}
			payload, parse := syslogPayload(m)
			items = append(items, lineItem{raw: payload, origin: origin, parse: parse})
		}
		_, err := h.ingestItems(ctx, items, "")
		return err
	}
}

var cefMarker = []byte("CEF:")

// syslogPayload picks the payload of a message and its parser (nil: the handler's own).
//
// Defender for Identity sends its CEF with the "CEF" in the header: as the RFC 5424 APP-NAME
// ("... CEF 6076 AccountEnumerationSecurityAlert 0|Microsoft|Azure ATP|...") or, in RFC 3164,
// as what reads as the tag ("TESTMACHINE CEF:0|Microsoft|..."). A payload that starts with
// "<digits>|" from app CEF gets its "CEF:" marker back.
func syslogPayload(m syslog.Message) ([]byte, Parser) {
	p := bytes.TrimSpace(m.Msg)
	switch {
	case len(p) > 0 && p[0] == '{':
		return p, nil
	case bytes.Contains(p, cefMarker):
		return p, syslogCEF(m)
	case strings.EqualFold(m.App, "CEF") && startsWithVersion(p):
		return append(append([]byte{}, cefMarker...), p...), syslogCEF(m)
	}
	return p, nil
}

// startsWithVersion reports whether p starts like a CEF header after its marker: "0|".
func startsWithVersion(p []byte) bool {
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	return i > 0 && i < len(p) && p[i] == '|'
}

// syslogCEF is ParseCEF completed from the syslog header: the host when the CEF names none,
// the header time (marked approximate) when the CEF carries none, and both as fields.
func syslogCEF(m syslog.Message) Parser {
	return func(line []byte, format string) (*adjoinv1.Event, error) {
		ev, err := ParseCEF(line, format)
		if err != nil {
			return nil, err
		}
		if m.Host != "" {
			ev.Fields[FieldSyslogHost] = m.Host
			if ev.Host == "" {
				ev.Host = m.Host
			}
		}
		if !m.Time.IsZero() {
			ev.Fields[FieldSyslogTime] = m.Time.UTC().Format(time.RFC3339Nano)
			if ev.Time == nil {
				ev.Time, ev.TimeApproximate = timestamppb.New(m.Time), true
			}
		}
		return ev, nil
	}
}
