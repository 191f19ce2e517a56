package zeek

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/adjoin/adjoin/pkg/jsonvalue"
)

// ParseJSON reads one Zeek JSON line (surrounding whitespace allowed). It fails with
// ErrNotJSON, ErrNotObject, ErrMissingField or ErrInvalidField, wrapped with details, rather
// than return a record without a time or a log name, because a detector would mis-order or
// mis-route it.
func ParseJSON(line []byte) (Record, error) {
	obj, err := jsonvalue.DecodeObject(line)
	if err != nil {
		return Record{}, err
	}
	var (
		stream, path, sensor string
		fields               = make(map[string]string, len(obj))
		literal              = make(map[string]bool, len(obj))
	)
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys) // flattening may map two keys to one name: first in order wins
	for _, k := range keys {
		v := obj[k]
		switch k {
		case "@stream", "_path":
			s, err := envelopeString(k, v)
			if err != nil {
				return Record{}, err
			}
			if k == "@stream" {
				stream = s
			} else {
				path = s
			}
			continue
		case "@system", "_system_name":
			s, err := envelopeString(k, v)
			if err != nil {
				return Record{}, err
			}
			if sensor == "" || k == "@system" {
				sensor = s
			}
			continue
		}
		if strings.HasPrefix(k, "@") || strings.HasPrefix(k, "_") {
			continue // other envelope: @proc, _write_ts, _node
		}
		if err := addJSON(fields, literal, k, v, false); err != nil {
			return Record{}, err
		}
	}
	ts, ok := fields["ts"]
	if !ok {
		return Record{}, fmt.Errorf("%w: ts", ErrMissingField)
	}
	tm, err := parseTS(ts)
	if err != nil {
		return Record{}, err
	}
	log := stream
	if log == "" {
		log = path
	}
	if log == "" {
		if log = inferLog(fields); log == "" {
			return Record{}, fmt.Errorf("%w: log name (no @stream or _path, and the columns match no known log)", ErrMissingField)
		}
	}
	if !validLogName(log) {
		return Record{}, fmt.Errorf("%w: log name %q", ErrInvalidField, log)
	}
	return Record{Log: log, Time: tm, UID: fields["uid"], Sensor: validUTF8(sensor), Fields: fields}, nil
}

// envelopeString reads a log or sensor name: a string, or null for none.
func envelopeString(key string, v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(x), nil
	}
	return "", fmt.Errorf("%w: %s is a JSON %s, want a string", ErrInvalidField, key, jsonvalue.Type(v))
}

// addJSON stores one column. Objects are flattened with dots; a name written with dots in
// the line (literal) beats the same name reached by flattening or by rewriting underscores.
func addJSON(fields map[string]string, literal map[string]bool, key string, v any, derived bool) error {
	if key == "" || strings.HasSuffix(key, ".") {
		return fmt.Errorf("%w: empty column name", ErrInvalidField)
	}
	if obj, ok := v.(map[string]any); ok {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if k == "" {
				return fmt.Errorf("%w: empty column name inside %s", ErrInvalidField, key)
			}
			if err := addJSON(fields, literal, key+"."+k, obj[k], true); err != nil {
				return err
			}
		}
		return nil
	}
	name := columnName(key)
	derived = derived || name != key
	if v == nil {
		return nil // unset
	}
	if _, taken := fields[name]; taken && (derived || literal[name]) {
		return nil
	}
	fields[name] = jsonValue(v)
	if !derived {
		literal[name] = true
	}
	return nil
}

// jsonValue writes a scalar or an array as the ASCII writer would; see the package comment.
func jsonValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "T"
		}
		return "F"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			if _, nested := e.([]any); nested {
				parts[i] = compactJSON(e)
				continue
			}
			if _, nested := e.(map[string]any); nested {
				parts[i] = compactJSON(e)
				continue
			}
			parts[i] = jsonValue(e)
		}
		return strings.Join(parts, ",")
	}
	return compactJSON(v)
}

func compactJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v) // unreachable for decoder output
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
