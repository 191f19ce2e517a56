package ldapsource

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Options tunes how LDIF records become entities.
type Options struct {
	NetBIOSDomain string // NetBIOS name of the domain (THESHIRE); if empty, derived from the first DC= component of each DN, upper-cased
	Source        string // stored in Entity.source, e.g. "ldif:theshire.ldif"
}

// Errors wrapped in every *LineError, so callers (and tests) can tell a broken file from a file
// that is well-formed but describes an account adjoin cannot key.
var (
	// ErrSyntax marks input that is not LDIF: a line without "attr:", bad base64, a record
	// that does not start with dn:, a folded line with nothing to continue.
	ErrSyntax = errors.New("malformed LDIF")
	// ErrValue marks a well-formed line whose value cannot mean what its attribute says, such
	// as an objectSid that is not a SID or a userAccountControl that is not a number.
	ErrValue = errors.New("bad attribute value")
	// ErrNoIdentity marks a user or computer with neither objectSid nor objectGUID: without
	// one it has no key, and joining it by name alone would defeat the order of trust.
	ErrNoIdentity = errors.New("user or computer has neither objectSid nor objectGUID")
)

// LineError says where in the input a problem is, so that whoever exported or wrote the file
// can fix it without bisecting a directory dump.
type LineError struct {
	Line int    // 1-based line number of the offending (logical) line
	DN   string // dn of the record the line belongs to, if any
	Err  error
}

// Error puts the line first, the way editors and compilers do, so it can be jumped to.
func (e *LineError) Error() string {
	if e.Line == 0 { // read over LDAP: there are no lines
		return fmt.Sprintf("dn %q: %v", e.DN, e.Err)
	}
	if e.DN != "" {
		return fmt.Sprintf("line %d (dn %q): %v", e.Line, e.DN, e.Err)
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}

// Unwrap exposes the cause, so errors.Is(err, ErrNoIdentity) and the like work through it.
func (e *LineError) Unwrap() error { return e.Err }

// ParseLDIF reads an ldifde-style export and returns the users and computers in it. Records that are
// neither (groups, OUs, the domain object) are skipped. Errors name the line number and the problem.
//
// The whole file is rejected on the first error: a directory that silently loses accounts
// would make badges greyed or alerts unresolved with no hint why.
func ParseLDIF(r io.Reader, opts Options) ([]*adjoinv1.Entity, error) {
	p := &parser{opts: opts}
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		s, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading LDIF at line %d: %w", n, err)
		}
		if s == "" && err != nil {
			break
		}
		s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
		if n == 1 {
			if strings.HasPrefix(s, "\xff\xfe") || strings.HasPrefix(s, "\xfe\xff") {
				return nil, &LineError{Line: 1, Err: fmt.Errorf("%w: input is UTF-16 (ldifde -u); convert it to UTF-8", ErrSyntax)}
			}
			s = strings.TrimPrefix(s, "\uFEFF")
		}
		if perr := p.physical(n, s); perr != nil {
			return nil, perr
		}
		if err != nil {
			break
		}
	}
	if err := p.flush(); err != nil {
		return nil, err
	}
	if err := p.endRecord(); err != nil {
		return nil, err
	}
	return p.out, nil
}

// parser assembles physical lines into logical (unfolded) lines and those into records.
type parser struct {
	opts    Options
	out     []*adjoinv1.Entity
	rec     *record // record being built; nil between records
	started bool    // a non-comment line has been seen, so "version:" is no longer allowed

	pending strings.Builder // logical line being unfolded
	start   int             // its first line number; 0 when none is pending
	comment bool            // it is a comment
}

func (p *parser) physical(n int, s string) error {
	switch {
	case strings.TrimSpace(s) == "" && !strings.HasPrefix(s, " "):
		if err := p.flush(); err != nil {
			return err
		}
		return p.endRecord()
	case s[0] == ' ':
		if p.start == 0 {
			return &LineError{Line: n, Err: fmt.Errorf("%w: continuation line (leading space) with no line to continue", ErrSyntax)}
		}
		p.pending.WriteString(s[1:])
		return nil
	}
	if err := p.flush(); err != nil {
		return err
	}
	p.start, p.comment = n, s[0] == '#'
	p.pending.Reset()
	p.pending.WriteString(s)
	return nil
}

func (p *parser) flush() error {
	if p.start == 0 {
		return nil
	}
	n, text := p.start, p.pending.String()
	p.start = 0
	p.pending.Reset()
	if p.comment {
		return nil
	}
	return p.line(n, text)
}

func (p *parser) line(n int, text string) error {
	dn := ""
	if p.rec != nil {
		dn = p.rec.dn
	}
	name, v, err := parseAttrLine(text)
	if err != nil {
		return &LineError{Line: n, DN: dn, Err: err}
	}
	v.line = n
	lower := strings.ToLower(name)
	if p.rec == nil {
		if lower == "version" && !p.started {
			p.started = true
			if strings.TrimSpace(string(v.val)) != "1" {
				return &LineError{Line: n, Err: fmt.Errorf("%w: LDIF version %q, only 1 is supported", ErrSyntax, v.val)}
			}
			return nil
		}
		p.started = true
		if lower != "dn" {
			return &LineError{Line: n, Err: fmt.Errorf("%w: record starts with %q, want a dn line", ErrSyntax, name)}
		}
		if v.url || !utf8.Valid(v.val) {
			return &LineError{Line: n, Err: fmt.Errorf("%w: dn is not a UTF-8 string", ErrSyntax)}
		}
		p.rec = &record{dn: string(v.val), line: n, attrs: make(map[string][]attrValue)}
		return nil
	}
	switch lower {
	case "dn":
		return &LineError{Line: n, DN: dn, Err: fmt.Errorf("%w: second dn: in one record (missing blank line?)", ErrSyntax)}
	case "changetype":
		// ldifde writes "changetype: add" on every exported record. Anything else describes
		// a change to apply, not a snapshot, and cannot be read as one.
		if ct := strings.TrimSpace(string(v.val)); !strings.EqualFold(ct, "add") {
			return &LineError{Line: n, DN: dn, Err: fmt.Errorf("%w: changetype %q, only add is supported", ErrSyntax, ct)}
		}
		return nil
	case "control":
		return nil
	}
	if i := strings.IndexByte(lower, ';'); i >= 0 {
		lower = lower[:i] // attribute options (";binary", ";range=0-1499") do not change meaning here
	}
	p.rec.attrs[lower] = append(p.rec.attrs[lower], v)
	return nil
}

func (p *parser) endRecord() error {
	if p.rec == nil {
		return nil
	}
	rec := p.rec
	p.rec = nil
	e, err := rec.toEntity(p.opts)
	if err != nil {
		return err
	}
	if e != nil {
		p.out = append(p.out, e)
	}
	return nil
}

// attrValue is one value of one attribute, decoded from base64 when given with "::".
type attrValue struct {
	line int
	val  []byte
	b64  bool // given as "attr:: base64"
	url  bool // given as "attr:< URL"; val holds the URL, which is not fetched
}

func parseAttrLine(text string) (string, attrValue, error) {
	i := strings.IndexByte(text, ':')
	if i <= 0 {
		return "", attrValue{}, fmt.Errorf("%w: want \"attribute: value\", got %q", ErrSyntax, clip(text))
	}
	name := text[:i]
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == ';' || c == '.' || c == '=') {
			return "", attrValue{}, fmt.Errorf("%w: bad attribute name %q", ErrSyntax, clip(name))
		}
	}
	rest := text[i+1:]
	switch {
	case strings.HasPrefix(rest, ":"):
		b, err := decodeBase64(strings.TrimSpace(rest[1:]))
		if err != nil {
			return "", attrValue{}, fmt.Errorf("%w: %s: bad base64: %v", ErrSyntax, name, err)
		}
		return name, attrValue{val: b, b64: true}, nil
	case strings.HasPrefix(rest, "<"):
		return name, attrValue{val: []byte(strings.TrimSpace(rest[1:])), url: true}, nil
	}
	return name, attrValue{val: []byte(strings.TrimLeft(rest, " "))}, nil
}

func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil && !strings.Contains(s, "=") {
		// Some hand-written files drop the padding.
		if b2, err2 := base64.RawStdEncoding.DecodeString(s); err2 == nil {
			return b2, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

func clip(s string) string {
	const limit = 60
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// isText reports whether a base64-decoded value is really a printable string (a hand-written
// file may base64 a text SID or GUID).
func isText(b []byte) bool {
	return utf8.Valid(b) && !bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 })
}
