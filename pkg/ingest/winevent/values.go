package winevent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/jsonvalue"
)

// ParseHex reads the integers Windows writes in hex — logon IDs, access masks, status codes,
// ticket encryption types — whatever the padding: OTRF writes "0x17" where the EVTX
// conversion writes "0x00000017", so joins must compare numbers, not strings. Plain decimal
// is accepted too, because some pipelines render the same fields as numbers. Surrounding
// spaces are ignored; anything else, including "", "0x" and "-", is an error.
func ParseHex(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	if len(t) > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		n, err := strconv.ParseUint(t[2:], 16, 64)
		if err != nil {
			return 0, fmt.Errorf("parse hex %q: %w", s, err)
		}
		return n, nil
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse hex %q: %w", s, err)
	}
	return n, nil
}

// StripMappedIPv4 turns an IPv4-mapped IPv6 address ("::ffff:172.18.39.5", as Kerberos events
// 4768/4769 write it) into plain IPv4 ("172.18.39.5", as 4624/5140 and Sysmon write it), so
// the same client address joins across events. Other values are only trimmed, and the
// Windows "no value" placeholder "-" becomes "".
func StripMappedIPv4(s string) string {
	return stripMappedIPv4(s)
}

// ClientAddress is a client address from an event field (StripMappedIPv4), or "" when it says
// nothing about a remote client: a placeholder, a loopback address (127.0.0.0/8, ::1; a DC's
// own processes) or an unspecified one (0.0.0.0, ::). Every detector that keys on a client
// address uses it, so they agree on which clients count.
func ClientAddress(s string) string {
	ip := stripMappedIPv4(s)
	if a, err := netip.ParseAddr(ip); err == nil && (a.IsLoopback() || a.IsUnspecified()) {
		return ""
	}
	return ip
}

func stripMappedIPv4(s string) string {
	t := strings.TrimSpace(s)
	if t == "-" {
		return ""
	}
	const prefix = "::ffff:"
	if len(t) > len(prefix) && strings.EqualFold(t[:len(prefix)], prefix) {
		if a, err := netip.ParseAddr(t[len(prefix):]); err == nil && a.Is4() {
			return a.String()
		}
	}
	return t
}

// stringify renders one decoded JSON value as a Fields string. Numbers keep their literal
// text (the decoder runs with UseNumber), so 64-bit Keywords are not rounded through float64.
func stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(x); err != nil {
			// Unreachable for decoder output; keep the value visible rather than drop it.
			return fmt.Sprint(x)
		}
		return strings.TrimSuffix(buf.String(), "\n")
	}
}

// parseEventID accepts a JSON integer or a numeric string (Winlogbeat 7+ writes event_id as
// a keyword string). IDs are at most 32 bits even with qualifiers, so larger values are
// rejected as corrupt rather than truncated.
func parseEventID(v any, name string) (int, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return 0, fmt.Errorf("%w: %s", ErrMissingField, name)
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
		if s == "" {
			return 0, fmt.Errorf("%w: %s is empty", ErrMissingField, name)
		}
	default:
		return 0, fmt.Errorf("%w: %s is a JSON %s, want an integer", ErrInvalidField, name, jsonvalue.Type(v))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q is not an integer", ErrInvalidField, name, s)
	}
	if n <= 0 || n > math.MaxUint32 {
		return 0, fmt.Errorf("%w: %s %d is out of range", ErrInvalidField, name, n)
	}
	return int(n), nil
}

// parseChannel requires a non-blank string: the channel decides which rules apply.
func parseChannel(v any, name string) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", fmt.Errorf("%w: %s", ErrMissingField, name)
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return "", fmt.Errorf("%w: %s is empty", ErrMissingField, name)
		}
		return s, nil
	default:
		return "", fmt.Errorf("%w: %s is a JSON %s, want a string", ErrInvalidField, name, jsonvalue.Type(v))
	}
}

// parseText reads an optional string envelope value (host, provider); other JSON types are
// ignored rather than rendered, since "42" is no host name.
func parseText(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}

// parseRecordID reads an optional record number written as a JSON integer or a decimal
// string. It is only used for ordering, so an unparsable value becomes 0 instead of failing
// the whole event.
func parseRecordID(v any) int64 {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// wallLayouts are the zone-less clocks in the data: Sysmon UtcTime, NXLog EventTime and
// PowerShell TimeCreated use a space; the T form is accepted for other exporters. Go accepts
// a fractional second after the seconds field even though the layouts omit it.
var wallLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05"}

// parseWall parses a zone-less wall clock as if it were UTC.
func parseWall(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range wallLayouts {
		if t, err := time.Parse(layout, s); err == nil && !t.IsZero() {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseZoned parses an RFC 3339 time (any offset) and returns it in UTC.
func parseZoned(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil || t.IsZero() {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// Audit keyword bits (winmeta.xml): every Security audit event carries exactly one of them.
const (
	keywordAuditFailure = 0x0010000000000000
	keywordAuditSuccess = 0x0020000000000000
)

// keywordsOutcome maps the Keywords bit mask to an Outcome. NXLog writes the mask as a signed
// 64-bit JSON integer, the EVTX conversion as a hex string; both are read here.
func keywordsOutcome(v any) string {
	var k uint64
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			k = uint64(n)
		} else if u, err := strconv.ParseUint(x.String(), 10, 64); err == nil {
			k = u
		} else {
			return ""
		}
	case string:
		u, err := ParseHex(x)
		if err != nil {
			return ""
		}
		k = u
	default:
		return ""
	}
	switch {
	case k&keywordAuditFailure != 0:
		return OutcomeFailure
	case k&keywordAuditSuccess != 0:
		return OutcomeSuccess
	}
	return ""
}
