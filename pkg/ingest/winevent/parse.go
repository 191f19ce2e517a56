package winevent

import (
	"fmt"
	"time"

	"github.com/adjoin/adjoin/pkg/jsonvalue"
)

// Parse reads one NDJSON line (surrounding whitespace allowed) holding a Windows event in any
// supported shape. It fails with ErrNotJSON, ErrNotObject, ErrMissingField or ErrInvalidField
// (wrapped with the offending field's name) rather than return a half-filled Event, because a
// detector that silently sees EventID 0 or a zero time would mis-correlate.
func Parse(line []byte) (Event, error) {
	obj, err := jsonvalue.DecodeObject(line)
	if err != nil {
		return Event{}, err
	}
	switch detect(obj) {
	case FormatECS:
		return parseECS(obj)
	case FormatEVTX:
		return parseFlat(obj, &evtxShape)
	case FormatNXLog:
		return parseFlat(obj, &nxlogShape)
	case FormatPowerShell:
		return parseFlat(obj, &powershellShape)
	}
	// No envelope at all: report EventID/Channel first so that the common mistakes get the
	// precise error, then the time every shape needs.
	if _, err := parseEventID(obj["EventID"], "EventID"); err != nil {
		return Event{}, err
	}
	if _, err := parseChannel(obj["Channel"], "Channel"); err != nil {
		return Event{}, err
	}
	return Event{}, fmt.Errorf("%w: time (no @timestamp, EventTime, TimeCreated or winlog envelope)", ErrMissingField)
}

// detect picks the shape from the envelope keys present; the order is documented in the
// package comment and matters: Winlogbeat lines also carry @timestamp, and an EVTX line's
// event data may hold almost any name.
func detect(obj map[string]any) string {
	if _, ok := obj["winlog"]; ok {
		return FormatECS
	}
	if _, ok := obj["winlog.event_id"]; ok {
		return FormatECS
	}
	if _, ok := obj["winlog.channel"]; ok {
		return FormatECS
	}
	_, hasComputer := obj["Computer"]
	_, hasRecordID := obj["EventRecordID"]
	_, hasHostname := obj["Hostname"]
	_, hasEventTime := obj["EventTime"]
	_, hasTimestamp := obj["@timestamp"]
	tc, hasTimeCreated := obj["TimeCreated"]
	zoned := false
	if s, ok := tc.(string); ok {
		_, zoned = parseZoned(s)
	}
	switch {
	case hasComputer && (hasRecordID || zoned):
		return FormatEVTX
	case hasHostname && (hasEventTime || hasTimestamp):
		return FormatNXLog
	case hasHostname && hasTimeCreated && !zoned:
		return FormatPowerShell
	case zoned || hasComputer:
		return FormatEVTX
	case hasEventTime || hasTimestamp || hasHostname:
		return FormatNXLog
	case hasTimeCreated:
		return FormatPowerShell
	}
	return ""
}

// flatShape describes a shape whose event data sits beside the envelope at the top level.
type flatShape struct {
	format         string
	eventIDKey     string
	channelKey     string
	hostKey        string
	providerKey    string
	recordKey      string // "" if the shape has no record number
	utcKey         string // envelope time in UTC, "" if the shape has none
	localKey       string // zone-less local wall clock, "" if the shape has none
	missingTimeKey string // the field an error names when no time is present
	envelope       map[string]bool
	outcome        func(obj map[string]any) string
	fixFields      func(obj map[string]any, fields map[string]string)
}

var nxlogShape = flatShape{
	format:      FormatNXLog,
	eventIDKey:  "EventID",
	channelKey:  "Channel",
	hostKey:     "Hostname",
	providerKey: "SourceName",
	recordKey:   "RecordNumber",
	utcKey:      "@timestamp",
	localKey:    "EventTime",
	// ProviderName is event data here (5058/5061 key storage provider), not the envelope.
	envelope: setOf("EventID", "Channel", "Hostname", "SourceName", "RecordNumber",
		"@timestamp", "@version", "EventTime", "EventReceivedTime", "host", "port", "tags",
		"SourceModuleName", "SourceModuleType", "Severity", "SeverityValue", "Keywords",
		"Opcode", "OpcodeValue", "Task", "Category", "ThreadID", "ExecutionProcessID",
		"ProviderGuid", "Version", "ActivityID", "RelatedActivityID", "ERROR_EVT_UNRESOLVED",
		"EventType", "EventTypeOrignal", "UserID", "AccountName", "AccountType", "Domain"),
	outcome: func(obj map[string]any) string {
		if o := keywordsOutcome(obj["Keywords"]); o != "" {
			return o
		}
		switch obj["EventType"] {
		case "AUDIT_SUCCESS":
			return OutcomeSuccess
		case "AUDIT_FAILURE":
			return OutcomeFailure
		}
		return ""
	},
	// Logstash renamed NXLog's EventType to EventTypeOrignal (sic) where the event had its
	// own EventType (Sysmon 12/13/17/18): only then is EventType event data.
	fixFields: func(obj map[string]any, fields map[string]string) {
		if _, renamed := obj["EventTypeOrignal"]; !renamed {
			return
		}
		if v, ok := obj["EventType"]; ok {
			fields["EventType"] = stringify(v)
		}
	},
	missingTimeKey: "@timestamp",
}

var powershellShape = flatShape{
	format:         FormatPowerShell,
	eventIDKey:     "EventID",
	channelKey:     "Channel",
	hostKey:        "Hostname",
	providerKey:    "SourceName",
	localKey:       "TimeCreated",
	envelope:       setOf("EventID", "Channel", "Hostname", "SourceName", "TimeCreated", "Task"),
	missingTimeKey: "TimeCreated",
}

var evtxShape = flatShape{
	format:      FormatEVTX,
	eventIDKey:  "EventID",
	channelKey:  "Channel",
	hostKey:     "Computer",
	providerKey: "ProviderName",
	recordKey:   "EventRecordID",
	utcKey:      "TimeCreated",
	envelope: setOf("EventID", "Channel", "Computer", "ProviderName", "EventRecordID",
		"TimeCreated", "ProviderGuid", "Version", "Level", "Task", "Opcode", "Keywords",
		"ExecutionProcessID", "ExecutionThreadID", "UserID", "ActivityID", "RelatedActivityID"),
	outcome:        func(obj map[string]any) string { return keywordsOutcome(obj["Keywords"]) },
	missingTimeKey: "TimeCreated",
}

func setOf(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// parseFlat builds an Event from a shape whose event data are top-level keys.
func parseFlat(obj map[string]any, s *flatShape) (Event, error) {
	id, err := parseEventID(obj[s.eventIDKey], s.eventIDKey)
	if err != nil {
		return Event{}, err
	}
	ch, err := parseChannel(obj[s.channelKey], s.channelKey)
	if err != nil {
		return Event{}, err
	}
	ev := Event{
		Format:   s.format,
		EventID:  id,
		Channel:  ch,
		Provider: parseText(obj[s.providerKey]),
		Host:     parseText(obj[s.hostKey]),
		Fields:   make(map[string]string, len(obj)),
	}
	if s.recordKey != "" {
		ev.RecordID = parseRecordID(obj[s.recordKey])
	}
	for k, v := range obj {
		if !s.envelope[k] {
			ev.Fields[k] = stringify(v)
		}
	}
	if s.fixFields != nil {
		s.fixFields(obj, ev.Fields)
	}
	if s.outcome != nil {
		ev.Outcome = s.outcome(obj)
	}
	if s.localKey != "" {
		if str, ok := obj[s.localKey].(string); ok {
			ev.LocalTime, _ = parseWall(str)
		}
	}
	if err := setTime(&ev, obj, s); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// setTime applies the time rules of the package comment to a flat shape.
func setTime(ev *Event, obj map[string]any, s *flatShape) error {
	var envelope time.Time
	zoned := false
	if s.utcKey != "" {
		str, _ := obj[s.utcKey].(string)
		envelope, zoned = parseZoned(str)
	}
	if ev.IsSysmon() && sysmonTime(ev, createdTime(obj, s, envelope)) {
		return nil
	}
	if s.utcKey != "" && obj[s.utcKey] != nil {
		if !zoned {
			return fmt.Errorf("%w: %s %q is not an RFC 3339 time", ErrInvalidField, s.utcKey, stringify(obj[s.utcKey]))
		}
		ev.Time = envelope
		return nil
	}
	if s.localKey != "" && obj[s.localKey] != nil {
		if ev.LocalTime.IsZero() {
			return fmt.Errorf("%w: %s %q is not a date and time", ErrInvalidField, s.localKey, stringify(obj[s.localKey]))
		}
		ev.Time = ev.LocalTime
		ev.TimeApproximate = true
		return nil
	}
	return fmt.Errorf("%w: %s", ErrMissingField, s.missingTimeKey)
}

// createdTime is the event's own creation clock when the line has it zoned: EVTX's
// TimeCreated (the envelope, parsed already), or a TimeCreated beside NXLog's @timestamp (which
// is Logstash's ingest time, hours late after a backlog, and so no judge of UtcTime).
func createdTime(obj map[string]any, s *flatShape, envelope time.Time) time.Time {
	if s.utcKey == "TimeCreated" {
		return envelope
	}
	str, _ := obj["TimeCreated"].(string)
	t, _ := parseZoned(str)
	return t
}

// sysmonZoneSkew is how far a Sysmon event's UtcTime may be from its own zoned creation time
// before it is taken for a time written in another zone: the two are the same instant, written
// milliseconds apart.
const sysmonZoneSkew = 15 * time.Minute

// sysmonTime sets Time from a Sysmon event's UtcTime and reports whether it did. created, when
// not zero, is the event's own zoned creation time (SystemTime): a UtcTime sysmonZoneSkew or
// more from it, by a whole number of quarter hours give or take 5 seconds, was written in
// another zone (the pandalab recordings of otrf/more: 7 h), so created, which the source's
// other channels are dated by too, is used instead.
func sysmonTime(ev *Event, created time.Time) bool {
	if !ev.IsSysmon() {
		return false
	}
	t, ok := parseWall(ev.Fields["UtcTime"])
	if !ok {
		return false
	}
	if !created.IsZero() && zoneApart(t.Sub(created)) {
		return false
	}
	ev.Time = t
	return true
}

// zoneApart reports whether d is a time zone's offset: 15 minutes or more, within 5 seconds of
// a whole number of quarter hours.
func zoneApart(d time.Duration) bool {
	d = d.Abs()
	if d < sysmonZoneSkew {
		return false
	}
	off := d % (15 * time.Minute)
	return off <= 5*time.Second || off >= 15*time.Minute-5*time.Second
}
