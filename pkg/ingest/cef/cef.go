package cef

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Errors returned by Parse, to be tested with errors.Is.
var (
	// ErrNotCEF means the input holds no "CEF:" marker.
	ErrNotCEF = errors.New("not a CEF line")
	// ErrMalformed means the input has the marker but not the CEF shape.
	ErrMalformed = errors.New("malformed CEF")
)

// Event is one parsed CEF line. Header fields are unescaped; Ext maps each extension key
// (case-sensitive, as written) to its unescaped value.
type Event struct {
	Version                                                     int
	Vendor, Product, DeviceVersion, SignatureID, Name, Severity string
	Ext                                                         map[string]string
}

// marker starts the CEF part of a line.
const marker = "CEF:"

// Parse parses one CEF line; a syslog header before "CEF:" is skipped, and trailing line
// breaks are ignored.
func Parse(s string) (Event, error) {
	i := strings.Index(s, marker)
	if i < 0 {
		return Event{}, ErrNotCEF
	}
	s = strings.TrimRight(s[i+len(marker):], "\r\n")
	fields, rest, err := splitHeader(s)
	if err != nil {
		return Event{}, err
	}
	v, err := strconv.Atoi(fields[0])
	if err != nil || v < 0 {
		return Event{}, fmt.Errorf("%w: version %q is not a number", ErrMalformed, fields[0])
	}
	ext, err := parseExtension(rest)
	if err != nil {
		return Event{}, err
	}
	return Event{
		Version:       v,
		Vendor:        fields[1],
		Product:       fields[2],
		DeviceVersion: fields[3],
		SignatureID:   fields[4],
		Name:          fields[5],
		Severity:      strings.TrimSpace(fields[6]),
		Ext:           ext,
	}, nil
}

// splitHeader returns the seven unescaped header fields and the raw extension after them.
func splitHeader(s string) ([7]string, string, error) {
	var fields [7]string
	var b strings.Builder
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '|' || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i++
		case c == '|':
			fields[n] = b.String()
			b.Reset()
			n++
			if n == len(fields) {
				return fields, s[i+1:], nil
			}
		default:
			b.WriteByte(c)
		}
	}
	if n == len(fields)-1 {
		// "CEF:0|v|p|1|sig|name|5" without the pipe that opens an empty extension.
		fields[n] = b.String()
		return fields, "", nil
	}
	return fields, "", fmt.Errorf("%w: %d header fields, want 7 separated by unescaped |", ErrMalformed, n+1)
}

// isKeyChar reports whether c may appear in an extension key. The dictionary keys are
// alphanumeric; vendors also use _ . - and brackets in custom keys.
func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == '[' || c == ']'
}

// parseExtension reads space-separated key=value pairs. A value runs to the space before the
// next key; trailing spaces of a value are dropped. Later duplicates of a key win.
func parseExtension(s string) (map[string]string, error) {
	ext := map[string]string{}
	type keyPos struct {
		key         string
		start, vals int // start of the key, start of its value
	}
	var keys []keyPos
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // an escaped character never ends a value or starts a key
		case '=':
			j := i
			for j > 0 && isKeyChar(s[j-1]) {
				j--
			}
			if j == i || (j > 0 && s[j-1] != ' ') {
				continue // part of a value, like the query of a URL
			}
			keys = append(keys, keyPos{key: s[j:i], start: j, vals: i + 1})
		}
	}
	if len(keys) == 0 {
		if strings.TrimLeft(s, " ") != "" {
			return nil, fmt.Errorf("%w: extension %q has no key=value pair", ErrMalformed, clip(s))
		}
		return ext, nil
	}
	if lead := s[:keys[0].start]; strings.TrimLeft(lead, " ") != "" {
		return nil, fmt.Errorf("%w: extension starts with %q before its first key", ErrMalformed, clip(lead))
	}
	for k, kp := range keys {
		end := len(s)
		if k+1 < len(keys) {
			end = keys[k+1].start
		}
		ext[kp.key] = unescapeValue(strings.TrimRight(s[kp.vals:end], " "))
	}
	return ext, nil
}

// unescapeValue resolves \\ \= \n \r (and a stray \|); any other backslash is kept.
func unescapeValue(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' || i+1 == len(v) {
			b.WriteByte(c)
			continue
		}
		switch v[i+1] {
		case '\\', '=', '|':
			b.WriteByte(v[i+1])
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			b.WriteByte('\\')
			b.WriteByte(v[i+1])
		}
		i++
	}
	return b.String()
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// String formats e as a CEF line with the escapes Parse reverses; keys are written in sorted
// order. It is meant for tests and for forwarding, not for preserving the original text.
func (e Event) String() string {
	var b strings.Builder
	b.WriteString(marker)
	b.WriteString(strconv.Itoa(e.Version))
	for _, f := range []string{e.Vendor, e.Product, e.DeviceVersion, e.SignatureID, e.Name, e.Severity} {
		b.WriteByte('|')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `|`, `\|`).Replace(f))
	}
	b.WriteByte('|')
	keys := make([]string, 0, len(e.Ext))
	for k := range e.Ext {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	esc := strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\n", `\n`, "\r", `\r`)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(esc.Replace(e.Ext[k]))
	}
	return b.String()
}

// Custom returns the value of the custom field whose label is label: cs1..cs6 (with
// cs1Label..), cn1..cn3, cfp1..cfp4, flexString1..2, deviceCustomDate1..2 and the like. The
// label is compared without case.
func (e Event) Custom(label string) (string, bool) {
	keys := make([]string, 0, len(e.Ext))
	for k := range e.Ext {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same answer every time when two fields share a label
	for _, k := range keys {
		base, ok := strings.CutSuffix(k, "Label")
		if !ok || !strings.EqualFold(e.Ext[k], label) {
			continue
		}
		if val, ok := e.Ext[base]; ok {
			return val, true
		}
	}
	return "", false
}
