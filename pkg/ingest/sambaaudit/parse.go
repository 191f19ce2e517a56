package sambaaudit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/adjoin/adjoin/pkg/jsonvalue"
)

// Kind is what a line of a Samba log holds.
type Kind int

// The kinds of line, in the order Parse tells them apart.
const (
	// Blank is an empty or all-space line.
	Blank Kind = iota
	// Header starts every log record: "[2026/11/28 09:54:03.092625,  0] file.c:621(function)".
	Header
	// Text is Samba's own message under a header, or a subprocess's relayed text.
	Text
	// Fragment is part of a JSON event a subprocess printed and Samba relayed in pieces.
	Fragment
	// AuditEvent is a JSON audit event (or, with an error, a line meant as one).
	AuditEvent
)

var kindNames = [...]string{"blank", "header", "text", "fragment", "event"}

// String names the kind: "blank", "header", "text", "fragment" or "event".
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Errors of lines meant as audit events; Parse wraps them with what and where.
var (
	// ErrNotJSON: the line starts as a JSON object but is truncated or malformed. It is
	// jsonvalue.ErrNotJSON, as for every parser of adjoin.
	ErrNotJSON = jsonvalue.ErrNotJSON
	// ErrMissingField: "timestamp", "type" or the object named by "type" is absent.
	ErrMissingField = errors.New("missing field")
	// ErrInvalid: a field has the wrong JSON type or an unreadable value.
	ErrInvalid = errors.New("invalid field")
)

// Event is one audit event as Samba wrote it.
type Event struct {
	// Time is the event's "timestamp", in UTC.
	Time time.Time
	// Type is the event's "type": Authentication, Authorization, dsdbChange,
	// passwordChange, groupChange, dsdbTransaction...
	Type string
	// Body is the object under the type's name; numbers are json.Number, so none is rounded.
	Body map[string]any
	// RelayedBy names the subprocess whose output carried the event
	// ("/usr/sbin/samba_spnupdate"); "" when the DC logged it itself.
	RelayedBy string
}

// headerRE matches the start of a Samba log record: date, time, debug level and, depending on
// the debug settings, more comma-separated items (pid, effective ids, class).
var headerRE = regexp.MustCompile(`^\[\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?,[^\]]*\]`)

// relayedRE matches the "program: " Samba puts before each chunk of a subprocess's output
// (and, alike, the "function: " many of its own messages start with).
var relayedRE = regexp.MustCompile(`^[A-Za-z0-9_./-]+: `)

// Parse reads one line of a Samba log, without its line ending. It returns the line's kind and,
// for an AuditEvent, the event. The error is non-nil only for a line meant as an audit event
// that is not a valid one; every other line is skipped by its kind, never refused.
func Parse(line []byte) (Kind, *Event, error) {
	if m := headerRE.Find(line); m != nil {
		rest := bytes.TrimSpace(line[len(m):])
		if len(rest) > 0 && rest[0] == '{' {
			ev, err := parseJSON(rest)
			return AuditEvent, ev, err
		}
		return Header, nil, nil
	}
	text := bytes.TrimSpace(line)
	switch {
	case len(text) == 0:
		return Blank, nil, nil
	case text[0] == '{':
		ev, err := parseJSON(text)
		return AuditEvent, ev, err
	}
	m := relayedRE.Find(text)
	if m == nil {
		return Text, nil, nil
	}
	rest := text[len(m):]
	if len(rest) > 0 && rest[0] == '{' {
		if ev, err := parseJSON(rest); err == nil {
			ev.RelayedBy = string(bytes.TrimSuffix(m, []byte(": ")))
			return AuditEvent, ev, nil
		}
		return Fragment, nil, nil
	}
	if bytes.ContainsAny(rest, `"{}`) {
		return Fragment, nil, nil
	}
	return Text, nil, nil
}

// parseJSON reads one audit event object: {"timestamp": ..., "type": T, T: {...}}.
func parseJSON(text []byte) (*Event, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("samba audit event: %w (truncated or malformed object): %v (line of %d bytes, ends %q)", ErrNotJSON, err, len(text), tail(text))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("samba audit event: %w: more after the object at byte %d", ErrNotJSON, dec.InputOffset())
	}
	ts, err := stringField(top, "timestamp")
	if err != nil {
		return nil, err
	}
	t, err := parseTime(ts)
	if err != nil {
		return nil, err
	}
	typ, err := stringField(top, "type")
	if err != nil {
		return nil, err
	}
	raw, ok := top[typ]
	if !ok {
		return nil, fmt.Errorf("samba audit event: %w: %q (the object of type %q)", ErrMissingField, typ, typ)
	}
	body, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("samba audit event: %w: %q is %s, want an object", ErrInvalid, typ, jsonKind(raw))
	}
	return &Event{Time: t, Type: typ, Body: body}, nil
}

func stringField(obj map[string]any, key string) (string, error) {
	v, ok := obj[key]
	if !ok || v == nil {
		return "", fmt.Errorf("samba audit event: %w: %q", ErrMissingField, key)
	}
	s, ok := v.(string)
	switch {
	case !ok:
		return "", fmt.Errorf("samba audit event: %w: %q is %s, want a string", ErrInvalid, key, jsonKind(v))
	case s == "":
		return "", fmt.Errorf("samba audit event: %w: %q is empty", ErrMissingField, key)
	}
	return s, nil
}

// timeLayouts: Samba's own ("%Y-%m-%dT%H:%M:%S.%06ld%z") first, then RFC 3339.
var timeLayouts = []string{"2006-01-02T15:04:05.999999999-0700", time.RFC3339Nano}

func parseTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("samba audit event: %w: \"timestamp\" %q is not a time like 2026-11-28T09:48:25.844402+0000", ErrInvalid, clip(s))
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	}
	return "an object"
}

// tail is the end of a line, to show where a truncated one stops.
func tail(b []byte) string {
	if len(b) > 40 {
		return "..." + string(b[len(b)-40:])
	}
	return string(b)
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
