package zeek

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// nestedColumns maps the underscore spelling of Zeek's nested-record columns to the dotted
// one. Only these are rewritten: an underscore is also an ordinary character in Zeek names.
var nestedColumns = func() map[string]string {
	nested := map[string][]string{
		"id":                {"orig_h", "orig_p", "resp_h", "resp_p", "vlan", "inner_vlan"},
		"times":             {"modified", "accessed", "created", "changed"},
		"certificate":       {"version", "serial", "subject", "issuer", "cn", "not_valid_before", "not_valid_after", "key_alg", "sig_alg", "key_type", "key_length", "exponent", "curve", "tbs_sig_alg"},
		"san":               {"dns", "uri", "email", "ip", "other_fields"},
		"basic_constraints": {"ca", "path_len"},
	}
	m := map[string]string{}
	for rec, cols := range nested {
		for _, c := range cols {
			m[rec+"_"+c] = rec + "." + c
		}
	}
	return m
}()

// columnName returns the dotted Zeek name of a column written either way.
func columnName(name string) string {
	if dotted, ok := nestedColumns[name]; ok {
		return dotted
	}
	return name
}

// inferLog names the log a line with no @stream, _path or #path comes from, by the columns
// only that log has; "" when none matches. The APT29 kerberos lines written for Kerberos
// inside SMB hold nothing but the connection columns and cannot be recognised this way.
func inferLog(f map[string]string) string {
	has := func(k string) bool { _, ok := f[k]; return ok }
	switch {
	case has("endpoint") && has("operation"):
		return "dce_rpc"
	case has("request_type"), has("client") && has("service") && has("cipher"):
		return "kerberos"
	case has("share_type"), has("native_file_system"):
		return "smb_mapping"
	case has("action") && has("name") && (has("times.modified") || has("fid")):
		return "smb_files"
	case has("server_nb_computer_name"), has("username") && has("hostname") && has("domainname"):
		return "ntlm"
	case has("message_id") && has("opcode"):
		return "ldap"
	case has("base_object") && has("scope"):
		return "ldap_search"
	case has("conn_state"), has("history") && has("proto"):
		return "conn"
	}
	return ""
}

// validLogName reports whether a log name is safe to put into a channel: letters, digits and
// "_.-:", at most 64 bytes.
func validLogName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '.', c == '-', c == ':':
		default:
			return false
		}
	}
	return true
}

// maxEpoch is 9999-12-31T23:59:59Z, the last second time.Time formats as RFC 3339.
const maxEpoch = 253402300799

// parseTS reads a ts column: epoch seconds ("1588205199.832602", the default) or RFC 3339
// (JSON::TS_ISO8601). The decimal form is read digit by digit so that microseconds are exact
// rather than rounded through a float64. Negative, NaN, infinite and far-future values are
// refused.
func parseTS(s string) (time.Time, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return time.Time{}, fmt.Errorf("%w: ts is empty", ErrInvalidField)
	}
	if strings.ContainsAny(t, "T:") {
		tm, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: ts %q is neither epoch seconds nor RFC 3339", ErrInvalidField, s)
		}
		return tm.UTC(), nil
	}
	if sec, nsec, ok := parseDecimalEpoch(t); ok {
		return time.Unix(sec, nsec).UTC(), nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxEpoch {
		return time.Time{}, fmt.Errorf("%w: ts %q is not epoch seconds between 0 and year 9999", ErrInvalidField, s)
	}
	sec := math.Floor(f)
	nsec := min(int64(math.Round((f-sec)*1e9)), 999_999_999)
	return time.Unix(int64(sec), nsec).UTC(), nil
}

// parseDecimalEpoch reads digits[.digits] exactly; ok is false for any other shape (an
// exponent, a sign) or a value past maxEpoch. Digits past nanoseconds are dropped.
func parseDecimalEpoch(s string) (sec, nsec int64, ok bool) {
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" || len(intPart) > 12 || !allDigits(intPart) || !allDigits(frac) {
		return 0, 0, false
	}
	sec, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil || sec > maxEpoch {
		return 0, 0, false
	}
	if len(frac) > 9 {
		frac = frac[:9]
	}
	for i := range 9 {
		nsec *= 10
		if i < len(frac) {
			nsec += int64(frac[i] - '0')
		}
	}
	return sec, nsec, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// unescape decodes the \xHH escapes Zeek's ASCII writer uses for separators, backslashes and
// non-printable bytes, and nothing else, as Zeek's own reader does: a backslash not followed
// by x and two hex digits stays. When the decoded bytes are not valid UTF-8, the text is
// returned as written (made valid if it is not), since protobuf strings must be UTF-8.
func unescape(s string) string {
	if !strings.Contains(s, `\x`) {
		return validUTF8(s)
	}
	if out := decodeAll(s); utf8.ValidString(out) {
		return out
	}
	return validUTF8(s)
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// validUTF8 replaces invalid UTF-8 with U+FFFD.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
