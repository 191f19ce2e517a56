package jsonvalue

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestDecodeObject(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		wantErr  error
	}{
		{"object", `{"a": 2136422885.0}`, nil},
		{"spaces after", "{\"a\": 1}  \n", nil},
		{"empty", ``, ErrNotJSON},
		{"truncated", `{"a": `, ErrNotJSON},
		{"two values", `{"a": 1} {"b": 2}`, ErrNotJSON},
		{"array", `[1, 2]`, ErrNotObject},
		{"string", `"x"`, ErrNotObject},
	} {
		t.Run(tt.name, func(t *testing.T) {
			obj, err := DecodeObject([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("DecodeObject(%q) = %v, want %v", tt.in, err, tt.wantErr)
			}
			if tt.name == "object" && obj["a"] != json.Number("2136422885.0") {
				t.Errorf("a = %#v, want the number's text kept", obj["a"])
			}
		})
	}
}

func TestType(t *testing.T) {
	for v, want := range map[any]string{nil: "null", "s": "string", json.Number("1"): "number", true: "bool", 1.5: "number", int8(1): "int8"} {
		if got := Type(v); got != want {
			t.Errorf("Type(%#v) = %q, want %q", v, got, want)
		}
	}
	if Type([]any{}) != "array" || Type(map[string]any{}) != "object" {
		t.Error("array or object misnamed")
	}
}
