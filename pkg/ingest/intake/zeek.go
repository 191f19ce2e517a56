package intake

import (
	"bytes"
	"encoding/json"
	"errors"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/zeek"
)

// ParseAny is the Parser for a mixed stream of Windows events and Zeek JSON logs. A line goes
// to package zeek when format is "zeek", or, with format "", when its top-level object has
// "@stream" or "_path", or both "uid" and "ts" (Zeek's JSON without a log name); every other
// line goes to ParseWindows with format unchanged. A Zeek line sent with a Windows format
// ("nxlog", "evtx"...) is refused as wrong-format, as ParseWindows refuses a shape other than
// the one asked for. Reasons are those of ParseWindows: not-json, not-object, missing-field,
// invalid, wrong-format.
//
// Zeek's TSV logs carry their column names in header lines, so they cannot be parsed one line
// at a time; read them with zeek.TSVReader and publish Record.Event().
func ParseAny(line []byte, format string) (*adjoinv1.Event, error) {
	switch {
	case format == zeek.Format:
		return parseZeek(line)
	case !looksLikeZeek(line):
		return ParseWindows(line, format)
	case format != "":
		return nil, &LineError{Reason: "wrong-format", Err: errors.New("line is zeek, not " + format)}
	}
	return parseZeek(line)
}

func parseZeek(line []byte) (*adjoinv1.Event, error) {
	r, err := zeek.ParseJSON(line)
	if err != nil {
		return nil, refused(err, zeek.ErrMissingField)
	}
	return r.Event(), nil
}

// looksLikeZeek reports whether line is a JSON object with Zeek's top-level keys. A cheap byte
// test comes first so that Windows events, nearly all of the traffic, are not decoded twice.
func looksLikeZeek(line []byte) bool {
	if !bytes.Contains(line, []byte(`"@stream"`)) && !bytes.Contains(line, []byte(`"_path"`)) &&
		!bytes.Contains(line, []byte(`"uid"`)) {
		return false
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(line, &top); err != nil {
		return false
	}
	if _, ok := top["@stream"]; ok {
		return true
	}
	if _, ok := top["_path"]; ok {
		return true
	}
	_, uid := top["uid"]
	_, ts := top["ts"]
	return uid && ts
}
