package zeek

import (
	"errors"
	"maps"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/jsonvalue"
)

// Format is the adjoin.v1.Event Format of every event built from a Zeek record.
const Format = "zeek"

// ChannelPrefix starts the Event Channel of a Zeek record: "zeek/kerberos", "zeek/dce_rpc".
const ChannelPrefix = "zeek/"

// Sentinel errors, returned wrapped with details, so that callers can count or dead-letter
// bad lines by cause with errors.Is while the message still says what was wrong.
var (
	// ErrNotJSON means a JSON line is not one well-formed JSON value.
	ErrNotJSON = jsonvalue.ErrNotJSON
	// ErrNotObject means a JSON line is a value other than an object.
	ErrNotObject = jsonvalue.ErrNotObject
	// ErrMissingField means a column every record needs (ts, the log name) is absent.
	ErrMissingField = errors.New("missing field")
	// ErrInvalidField means a needed column is present but unusable: a ts that is not a
	// time, a log name that is not a string or holds odd characters, an empty column name.
	ErrInvalidField = errors.New("invalid field")
	// ErrNoHeader means a TSV data line came before any #fields header.
	ErrNoHeader = errors.New("no #fields header")
	// ErrBadHeader means a TSV header line is malformed (an empty separator, #types not
	// matching #fields); the reader keeps its previous state for that header.
	ErrBadHeader = errors.New("bad header")
	// ErrColumnCount means a TSV data line has a different number of columns than #fields.
	ErrColumnCount = errors.New("wrong number of columns")
	// ErrLineTooLong means a TSV line exceeded TSVReader.MaxLineBytes; it is skipped whole.
	ErrLineTooLong = errors.New("line too long")
)

// Record is one Zeek log line.
type Record struct {
	// Log is the log's name: "kerberos", "dce_rpc", "smb_mapping", "conn"...
	Log string
	// Time is the ts column, in UTC.
	Time time.Time
	// UID is the connection uid ("" when the log has none). It is unique per sensor only:
	// another sensor that saw the same connection gives it another uid.
	UID string
	// Sensor is the capture point that wrote the line ("@system", "_system_name"), "" when
	// the encoding does not say (TSV).
	Sensor string
	// Fields holds every set column by its dotted Zeek name ("id.orig_h"), including ts and
	// uid; see the package comment for how values are written.
	Fields map[string]string
}

// Get returns a column, or "" when it is unset.
func (r Record) Get(name string) string { return r.Fields[name] }

// Event turns the record into the event the intake publishes: Format "zeek", Channel
// "zeek/"+Log, EventId 0 (Zeek has no event ids; the log name is the type), Host the sensor
// (or ""), and Fields a copy of the record's columns. RecordId stays 0: the uid, which
// identifies a connection rather than a line, is in Fields["uid"].
func (r Record) Event() *adjoinv1.Event {
	fields := make(map[string]string, len(r.Fields)+1)
	maps.Copy(fields, r.Fields)
	if _, ok := fields["uid"]; !ok && r.UID != "" {
		fields["uid"] = r.UID
	}
	return &adjoinv1.Event{
		Format:  Format,
		Channel: ChannelPrefix + r.Log,
		Host:    r.Sensor,
		Time:    timestamppb.New(r.Time),
		Fields:  fields,
	}
}

// Format and channel prefix of the DC traffic sensor's events (package wire), which use
// Zeek's log and column names so that the Zeek detectors read them unchanged. They are
// written here rather than imported because package wire builds on this one's names.
const (
	networkFormat        = "wire"
	networkChannelPrefix = "network/"
)

// LogOf returns the Zeek log an event was built from ("kerberos"), or "" when the event did
// not come from Zeek, so that detectors can skip other sources cheaply. The events of the DC
// traffic sensor (Format "wire", Channel "network/kerberos") name their log the same way.
func LogOf(ev *adjoinv1.Event) string {
	prefix := ChannelPrefix
	switch ev.GetFormat() {
	case Format:
	case networkFormat:
		prefix = networkChannelPrefix
	default:
		return ""
	}
	log, ok := strings.CutPrefix(ev.GetChannel(), prefix)
	if !ok {
		return ""
	}
	return log
}

// SplitPrincipal splits a client principal as Zeek's kerberos.log writes it — "name/REALM",
// with the realm after the last slash ("pbeesly/DMEVALS.LOCAL", "UTICA$/DMEVALS.LOCAL") —
// into the name and the realm, both lower-cased. A principal written name@REALM is split at
// the @; one with neither gives an empty realm. It is not meant for the service column, which
// holds a service name without realm ("cifs/NEWYORK", "krbtgt/DMEVALS.LOCAL").
func SplitPrincipal(p string) (name, realm string) {
	p = strings.ToLower(strings.TrimSpace(p))
	if i := strings.LastIndexByte(p, '@'); i >= 0 {
		return p[:i], p[i+1:]
	}
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, ""
}
