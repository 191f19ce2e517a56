package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Message is one syslog message.
type Message struct {
	// Facility and Severity come from the PRI part; a message without one gets user.notice
	// (1 and 5), as RFC 3164 section 4.3.3 tells a relay to assume.
	Facility, Severity int
	// Time is the header's timestamp in UTC, zero when the header has none. RFC 3164
	// timestamps carry neither year nor zone: the year of reception is taken (the year before
	// when that puts the time more than a month ahead), and the zone is taken to be UTC.
	Time time.Time
	// Host is the HOSTNAME field and App the APP-NAME (RFC 5424) or TAG (RFC 3164), "" when
	// absent or nil ("-").
	Host, App string
	// Msg is the payload after the header (a UTF-8 byte order mark removed).
	Msg []byte
	// Raw is the whole message as framed, trailing line breaks and NULs removed. For an
	// oversized message it holds only the first bytes (see Oversize).
	Raw []byte
	// Remote is the sender, "tcp:<addr>" or "udp:<addr>"; empty when not received by a Server.
	Remote string
	// Oversize, when above 0, is the size in bytes of a message longer than the server's
	// MaxMessage: it was not kept, Msg is empty and Raw holds at most its first 4 KiB, so the
	// refusal can be recorded. It is 0 for every other message.
	Oversize int
}

// ErrInvalid marks a message that has a syslog header but breaks its grammar. A Server still
// delivers such a message, whole, as the Msg of a headerless one, so nothing is dropped.
var ErrInvalid = errors.New("invalid syslog message")

// ParseMessage parses an RFC 5424 or RFC 3164 message. A message without a PRI part has no
// header: it parses as RFC 3164 with the whole text as Msg. On error (ErrInvalid) the returned
// Message is still usable: it holds the whole text as Msg, with the PRI values when they were
// readable; that is what a Server delivers.
func ParseMessage(b []byte) (Message, error) { return parse(b, time.Now()) }

// parse is ParseMessage with the clock used to place RFC 3164 timestamps in a year.
func parse(b []byte, now time.Time) (Message, error) {
	b = bytes.TrimRight(b, "\r\n\x00")
	m := Message{Facility: 1, Severity: 5, Raw: b, Msg: b}
	pri, rest, ok, err := parsePRI(b)
	if err != nil || !ok {
		return m, err
	}
	m.Facility, m.Severity = pri/8, pri%8
	if rest, ok := cutVersion(rest); ok {
		return parse5424(m, rest)
	}
	return parse3164(m, rest, now), nil
}

// parsePRI reads "<N>" with N from 0 to 191. ok is false when b does not start with a PRI
// (an XML payload starts with '<' too), err is set when it does but N is out of range.
func parsePRI(b []byte) (pri int, rest []byte, ok bool, err error) {
	if len(b) < 3 || b[0] != '<' {
		return 0, b, false, nil
	}
	i := 1
	for i < len(b) && i <= 4 && b[i] >= '0' && b[i] <= '9' {
		pri = pri*10 + int(b[i]-'0')
		i++
	}
	if i == 1 || i > 4 || i >= len(b) || b[i] != '>' {
		return 0, b, false, nil
	}
	if pri > 191 {
		return 0, b, false, fmt.Errorf("%w: PRI %d above 191", ErrInvalid, pri)
	}
	return pri, b[i+1:], true, nil
}

// cutVersion removes the RFC 5424 VERSION ("1 ") and reports whether it was there: one to
// three digits, the first not zero, then a space. An RFC 3164 timestamp never starts so.
func cutVersion(b []byte) ([]byte, bool) {
	i := 0
	for i < len(b) && i < 3 && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 || b[0] == '0' || i >= len(b) || b[i] != ' ' {
		return b, false
	}
	return b[i+1:], true
}

// parse5424 reads TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG].
//
// Structured data that is neither "-" nor well-formed elements is taken as the start of MSG:
// Defender for Identity, for one, writes "... CEF 6076 AccountEnumerationSecurityAlert
// 0|Microsoft|Azure ATP|..." with no STRUCTURED-DATA field at all.
func parse5424(m Message, b []byte) (Message, error) {
	var f [5][]byte
	for i := range f {
		tok, rest, ok := bytes.Cut(b, []byte{' '})
		// The header may end after MSGID (no STRUCTURED-DATA), not before.
		if !ok && i < len(f)-1 || len(tok) == 0 {
			return m, fmt.Errorf("%w: RFC 5424 header is incomplete (timestamp, hostname, app-name, procid, msgid)", ErrInvalid)
		}
		f[i], b = tok, rest
	}
	if !bytes.Equal(f[0], nilValue) {
		t, err := time.Parse(time.RFC3339Nano, string(f[0]))
		if err != nil {
			return m, fmt.Errorf("%w: RFC 5424 timestamp %q", ErrInvalid, clip(f[0]))
		}
		m.Time = t.UTC()
	}
	m.Host, m.App = nilOr(f[1]), nilOr(f[2])
	switch {
	case len(b) == 0:
		m.Msg = nil
	case b[0] == '-' && (len(b) == 1 || b[1] == ' '):
		m.Msg = b[min(2, len(b)):]
	default:
		if n := structuredData(b); n > 0 && (n == len(b) || b[n] == ' ') {
			b = b[n:]
			if len(b) > 0 {
				b = b[1:]
			}
		}
		m.Msg = b
	}
	m.Msg = bytes.TrimPrefix(m.Msg, []byte("\xef\xbb\xbf"))
	if len(m.Msg) == 0 {
		m.Msg = nil
	}
	return m, nil
}

var nilValue = []byte("-")

func nilOr(b []byte) string {
	if bytes.Equal(b, nilValue) {
		return ""
	}
	return string(b)
}

// structuredData returns the length of the SD-ELEMENTs at the start of b, 0 if they are not
// well formed.
func structuredData(b []byte) int {
	i := 0
	for i < len(b) && b[i] == '[' {
		i++
		n := sdName(b[i:])
		if n == 0 {
			return 0
		}
		i += n
		for {
			if i >= len(b) {
				return 0
			}
			if b[i] == ']' {
				i++
				break
			}
			if b[i] != ' ' {
				return 0
			}
			i++
			n := sdName(b[i:])
			if n == 0 || i+n+1 >= len(b) || b[i+n] != '=' || b[i+n+1] != '"' {
				return 0
			}
			i += n + 2
			for {
				if i >= len(b) {
					return 0
				}
				if b[i] == '\\' && i+1 < len(b) {
					i += 2
					continue
				}
				if b[i] == '"' {
					i++
					break
				}
				i++
			}
		}
	}
	return i
}

// sdName returns the length of an SD-NAME at the start of b: 1 to 32 printable US-ASCII
// characters except '=', ' ', ']' and '"'.
func sdName(b []byte) int {
	n := 0
	for n < len(b) && n < 33 && b[n] > ' ' && b[n] < 127 && b[n] != '=' && b[n] != ']' && b[n] != '"' {
		n++
	}
	if n > 32 {
		return 0
	}
	return n
}

// parse3164 reads TIMESTAMP HOSTNAME TAG: MSG, each part optional from the end, as RFC 3164
// section 4.3 asks of a receiver: without a readable timestamp everything after PRI is MSG.
func parse3164(m Message, b []byte, now time.Time) Message {
	m.Msg = b
	t, rest, ok := timestamp3164(b, now)
	if !ok {
		return m
	}
	m.Time = t
	b = bytes.TrimLeft(rest, " ")
	// The next word is the hostname unless it already looks like a tag ("su:", "sshd[42]:").
	word, after, _ := bytes.Cut(b, []byte{' '})
	if len(word) > 0 && !bytes.ContainsAny(word, ":[") {
		m.Host = string(word)
		b = after
	}
	if app, msg, ok := cutTag(b); ok {
		m.App, b = app, msg
	}
	m.Msg = b
	if len(m.Msg) == 0 {
		m.Msg = nil
	}
	return m
}

// cutTag splits "TAG[PID]: MSG" or "TAG: MSG". A tag is up to 64 letters, digits and "-_./";
// one space after the colon belongs to the separator.
func cutTag(b []byte) (string, []byte, bool) {
	i := 0
	for i < len(b) && i <= 64 && isTagChar(b[i]) {
		i++
	}
	if i == 0 || i > 64 || i >= len(b) {
		return "", b, false
	}
	tag := string(b[:i])
	if b[i] == '[' {
		end := bytes.IndexByte(b[i:], ']')
		if end < 0 {
			return "", b, false
		}
		i += end + 1
		if i < len(b) && b[i] == ':' {
			i++
		}
	} else if b[i] == ':' {
		i++
	} else {
		return "", b, false
	}
	if i < len(b) && b[i] == ' ' {
		i++
	}
	return tag, b[i:], true
}

func isTagChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/'
}

var months = map[string]time.Month{
	"Jan": time.January, "Feb": time.February, "Mar": time.March, "Apr": time.April, "May": time.May, "Jun": time.June,
	"Jul": time.July, "Aug": time.August, "Sep": time.September, "Oct": time.October, "Nov": time.November, "Dec": time.December,
}

// timestamp3164 reads "Mmm dd hh:mm:ss", optionally with a year before the time
// ("Mmm dd yyyy hh:mm:ss") or fractional seconds, or an RFC 3339 timestamp as some relays
// write. The timestamp must be followed by a space or the end.
func timestamp3164(b []byte, now time.Time) (time.Time, []byte, bool) {
	if tok, rest, _ := bytes.Cut(b, []byte{' '}); len(tok) >= 19 && tok[4] == '-' && tok[10] == 'T' {
		if t, err := time.Parse(time.RFC3339Nano, string(tok)); err == nil {
			return t.UTC(), rest, true
		}
		return time.Time{}, b, false
	}
	if len(b) < 14 {
		return time.Time{}, b, false
	}
	mon, ok := months[string(b[:3])]
	if !ok || b[3] != ' ' {
		return time.Time{}, b, false
	}
	p := bytes.TrimLeft(b[4:], " ")
	day, p, ok := number(p, 1, 2)
	if !ok || len(p) == 0 || p[0] != ' ' {
		return time.Time{}, b, false
	}
	p = p[1:]
	year := 0
	if y, rest, ok := number(p, 4, 4); ok && len(rest) > 0 && rest[0] == ' ' {
		year, p = y, rest[1:]
	}
	hh, p, ok1 := number(p, 2, 2)
	p, ok2 := cutByte(p, ':')
	mm, p, ok3 := number(p, 2, 2)
	p, ok4 := cutByte(p, ':')
	ss, p, ok5 := number(p, 2, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, b, false
	}
	nsec := 0
	if len(p) > 1 && p[0] == '.' {
		digits := 0
		for digits < len(p)-1 && p[1+digits] >= '0' && p[1+digits] <= '9' {
			digits++
		}
		frac := p[1 : 1+digits]
		for i := 0; i < 9; i++ {
			nsec *= 10
			if i < len(frac) {
				nsec += int(frac[i] - '0')
			}
		}
		p = p[1+digits:]
	}
	if len(p) > 0 && p[0] != ' ' {
		return time.Time{}, b, false
	}
	at := func(y int) time.Time { return time.Date(y, mon, day, hh, mm, ss, nsec, time.UTC) }
	if year != 0 {
		return at(year), p, true
	}
	// No year: this year, unless that is more than a month ahead (a December message read in
	// January); messages come from the past, give or take the sender's clock.
	t := at(now.Year())
	if t.After(now.AddDate(0, 1, 0)) {
		t = at(now.Year() - 1)
	}
	return t, p, true
}

func number(b []byte, minDigits, maxDigits int) (int, []byte, bool) {
	n, i := 0, 0
	for i < len(b) && i < maxDigits && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int(b[i]-'0')
		i++
	}
	if i < minDigits {
		return 0, b, false
	}
	return n, b[i:], true
}

func cutByte(b []byte, c byte) ([]byte, bool) {
	if len(b) == 0 || b[0] != c {
		return b, false
	}
	return b[1:], true
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}
