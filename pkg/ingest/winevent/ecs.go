package winevent

import (
	"fmt"
	"strings"

	"github.com/adjoin/adjoin/pkg/jsonvalue"
)

// Winlogbeat/ECS field names. Winlogbeat nests them ("winlog": {"event_id": ...}); some
// pipelines flatten them into dotted top-level keys ("winlog.event_id"); lookup reads both.
const (
	ecsEventID      = "winlog.event_id"
	ecsEventCode    = "event.code" // ECS copy of the event ID, used when winlog.event_id is absent
	ecsChannel      = "winlog.channel"
	ecsComputer     = "winlog.computer_name"
	ecsRecordID     = "winlog.record_id"
	ecsProvider     = "winlog.provider_name"
	ecsEventData    = "winlog.event_data"
	ecsUserData     = "winlog.user_data"
	ecsKeywords     = "winlog.keywords"
	ecsOutcome      = "event.outcome"
	ecsTimestamp    = "@timestamp"
	ecsHostName     = "host.name"
	ecsHostHostname = "host.hostname"
	ecsEventProv    = "event.provider"
)

// parseECS builds an Event from a Winlogbeat/ECS document. Event data come from
// winlog.event_data, plus winlog.user_data for the events that use it (1102, 104), because
// Winlogbeat keeps the two apart while the other shapes flatten both.
func parseECS(obj map[string]any) (Event, error) {
	if w, ok := obj["winlog"]; ok {
		if _, isObj := w.(map[string]any); !isObj {
			return Event{}, fmt.Errorf("%w: winlog is a JSON %s, want an object", ErrInvalidField, jsonvalue.Type(w))
		}
	}
	idName := ecsEventID
	idRaw, _ := lookup(obj, ecsEventID)
	if idRaw == nil {
		if v, _ := lookup(obj, ecsEventCode); v != nil {
			idRaw, idName = v, ecsEventCode
		}
	}
	id, err := parseEventID(idRaw, idName)
	if err != nil {
		return Event{}, err
	}
	chRaw, _ := lookup(obj, ecsChannel)
	ch, err := parseChannel(chRaw, ecsChannel)
	if err != nil {
		return Event{}, err
	}
	recRaw, _ := lookup(obj, ecsRecordID)
	ev := Event{
		Format:   FormatECS,
		EventID:  id,
		Channel:  ch,
		Provider: firstText(obj, ecsProvider, ecsEventProv),
		Host:     firstText(obj, ecsComputer, ecsHostName, ecsHostHostname),
		RecordID: parseRecordID(recRaw),
		Outcome:  ecsOutcomeOf(obj),
		Fields:   ecsFields(obj),
	}
	tsRaw, _ := lookup(obj, ecsTimestamp)
	ts, _ := tsRaw.(string)
	t, ok := parseZoned(ts)
	if sysmonTime(&ev, t) { // Winlogbeat's @timestamp is the record's creation time
		return ev, nil
	}
	if tsRaw == nil {
		return Event{}, fmt.Errorf("%w: %s", ErrMissingField, ecsTimestamp)
	}
	if !ok {
		return Event{}, fmt.Errorf("%w: %s %q is not an RFC 3339 time", ErrInvalidField, ecsTimestamp, stringify(tsRaw))
	}
	ev.Time = t
	return ev, nil
}

// ecsFields flattens user_data then event_data (event_data wins on a clash), from nested
// objects and from dotted top-level keys alike.
func ecsFields(obj map[string]any) map[string]string {
	fields := make(map[string]string)
	for _, section := range []string{ecsUserData, ecsEventData} {
		if m, ok := lookupObject(obj, section); ok {
			for k, v := range m {
				fields[k] = stringify(v)
			}
		}
		prefix := section + "."
		for k, v := range obj {
			if name, ok := strings.CutPrefix(k, prefix); ok && name != "" {
				fields[name] = stringify(v)
			}
		}
	}
	return fields
}

// ecsOutcomeOf prefers ECS event.outcome and falls back to Winlogbeat's rendered keyword
// names ("Audit Success", "Audit Failure").
func ecsOutcomeOf(obj map[string]any) string {
	if v, _ := lookup(obj, ecsOutcome); v != nil {
		switch s, _ := v.(string); strings.ToLower(strings.TrimSpace(s)) {
		case OutcomeSuccess:
			return OutcomeSuccess
		case OutcomeFailure:
			return OutcomeFailure
		}
	}
	kw, _ := lookup(obj, ecsKeywords)
	var names []any
	switch x := kw.(type) {
	case []any:
		names = x
	case string:
		names = []any{x}
	}
	for _, n := range names {
		s, _ := n.(string)
		switch {
		case strings.EqualFold(s, "Audit Failure"):
			return OutcomeFailure
		case strings.EqualFold(s, "Audit Success"):
			return OutcomeSuccess
		}
	}
	return ""
}

// lookup finds a dotted path either as one flattened key or by walking nested objects, in
// any mix ("winlog.event_data" nested under a flattened "winlog" prefix and so on).
func lookup(m map[string]any, path string) (any, bool) {
	if v, ok := m[path]; ok {
		return v, true
	}
	head, rest, found := strings.Cut(path, ".")
	if !found {
		return nil, false
	}
	sub, ok := m[head].(map[string]any)
	if !ok {
		return nil, false
	}
	return lookup(sub, rest)
}

// lookupObject is lookup for values that must be JSON objects.
func lookupObject(m map[string]any, path string) (map[string]any, bool) {
	v, _ := lookup(m, path)
	obj, ok := v.(map[string]any)
	return obj, ok
}

// firstText returns the first non-blank string among paths.
func firstText(m map[string]any, paths ...string) string {
	for _, p := range paths {
		v, _ := lookup(m, p)
		if s := parseText(v); s != "" {
			return s
		}
	}
	return ""
}
