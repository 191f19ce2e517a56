// Package jsonvalue reads one JSON object from a line the way every adjoin parser does
// (numbers kept as json.Number, nothing after the value) and names a decoded value's JSON
// type for error messages.
package jsonvalue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

var (
	// ErrNotJSON means the input is not one well-formed JSON value.
	ErrNotJSON = errors.New("not JSON")
	// ErrNotObject means the input is JSON but not an object (an array, string, number...).
	ErrNotObject = errors.New("JSON value is not an object")
)

// DecodeObject decodes exactly one JSON object, keeping numbers as json.Number so that their
// text and 64-bit values survive ("2136422885.0", Keywords, logon ids written as integers).
// It fails with ErrNotJSON or ErrNotObject, wrapped with details.
func DecodeObject(line []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	if rest := bytes.TrimSpace(line[dec.InputOffset():]); len(rest) > 0 {
		return nil, fmt.Errorf("%w: %d bytes of trailing data after the JSON value", ErrNotJSON, len(rest))
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: got a JSON %s", ErrNotObject, Type(v))
	}
	return obj, nil
}

// Type names a decoded value's JSON type: null, string, number, bool, array or object.
func Type(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
