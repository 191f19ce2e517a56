package zeek

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrRead marks a failure of the underlying reader: it ends the log, unlike a malformed line.
var ErrRead = errors.New("reading the log failed")

// DefaultMaxLineBytes bounds one TSV line unless TSVReader.MaxLineBytes says otherwise.
const DefaultMaxLineBytes = 4 << 20

// TSV header defaults, as Zeek writes them; a "#separator" line restores them.
const (
	defaultSeparator    = "\t"
	defaultSetSeparator = ","
	defaultEmptyField   = "(empty)"
	defaultUnsetField   = "-"
)

// TSVReader reads Zeek's ASCII (TSV) logs line by line, keeping the header state across
// lines. It is not safe for concurrent use.
type TSVReader struct {
	// MaxLineBytes bounds one line (DefaultMaxLineBytes when <= 0); a longer line is
	// skipped and reported with ErrLineTooLong.
	MaxLineBytes int

	r    *bufio.Reader
	line int
	err  error // sticky: io.EOF or the underlying reader's failure

	sep, setSep, empty, unset string
	path                      string
	fields                    []string
	container                 []bool // column i is a set[...] or vector[...]
}

// NewTSVReader returns a reader with Zeek's default separators, ready for a log that starts
// with its headers.
func NewTSVReader(r io.Reader) *TSVReader {
	t := &TSVReader{r: bufio.NewReaderSize(r, 64<<10)}
	t.resetHeader()
	return t
}

func (t *TSVReader) resetHeader() {
	t.sep, t.setSep, t.empty, t.unset = defaultSeparator, defaultSetSeparator, defaultEmptyField, defaultUnsetField
	t.path, t.fields, t.container = "", nil, nil
}

// Next returns the next data record and its 1-based line number. Header, blank and comment
// lines are consumed silently. A malformed line returns an error that names the line and the
// reason, and the following call reads on; io.EOF (with the number of lines read) marks the
// end, and a failure of the underlying reader is returned, wrapped, from then on.
func (t *TSVReader) Next() (Record, int, error) {
	for {
		if t.err != nil {
			return Record{}, t.line, t.err
		}
		raw, tooLong, err := t.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				t.err = io.EOF
			} else {
				t.err = fmt.Errorf("zeek tsv: read after line %d: %w: %w", t.line, ErrRead, err)
			}
			continue
		}
		t.line++
		if tooLong {
			return Record{}, t.line, fmt.Errorf("line %d: %w (more than %d bytes)", t.line, ErrLineTooLong, t.maxLine())
		}
		line := strings.TrimSuffix(string(raw), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] == '#' {
			if err := t.header(line); err != nil {
				return Record{}, t.line, fmt.Errorf("line %d: %w", t.line, err)
			}
			continue
		}
		rec, err := t.row(line)
		if err != nil {
			return Record{}, t.line, fmt.Errorf("line %d: %w", t.line, err)
		}
		return rec, t.line, nil
	}
}

func (t *TSVReader) maxLine() int {
	if t.MaxLineBytes > 0 {
		return t.MaxLineBytes
	}
	return DefaultMaxLineBytes
}

// readLine returns one line without its "\n". A line longer than the limit is read to its
// end and dropped, so the stream stays in step.
func (t *TSVReader) readLine() (line []byte, tooLong bool, err error) {
	limit := t.maxLine()
	var buf []byte
	for {
		chunk, err := t.r.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, chunk...)
			n := len(buf)
			if n > 0 && buf[n-1] == '\n' {
				n--
			}
			if n > limit {
				tooLong, buf = true, nil
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, true, nil
			}
			return buf[:len(buf)-1], false, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if tooLong {
				return nil, true, nil
			}
			if len(buf) == 0 {
				return nil, false, io.EOF
			}
			return buf, false, nil // last line without "\n"
		default:
			return nil, false, err
		}
	}
}

// header applies one "#..." line. Unknown directives (#open, #close, comments) are ignored.
func (t *TSVReader) header(line string) error {
	if rest, ok := strings.CutPrefix(line, "#separator"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
		sep := ""
		if rest != "" {
			sep = decodeAll(rest[1:])
		}
		if sep == "" {
			return fmt.Errorf("%w: empty #separator", ErrBadHeader)
		}
		t.resetHeader()
		t.sep = sep
		return nil
	}
	parts := strings.Split(line, t.sep)
	name, values := parts[0], parts[1:]
	one := func() (string, error) {
		if len(values) != 1 {
			return "", fmt.Errorf("%w: %s wants one value, got %d", ErrBadHeader, name, len(values))
		}
		return decodeAll(values[0]), nil
	}
	switch name {
	case "#set_separator":
		v, err := one()
		if err != nil {
			return err
		}
		if v == "" {
			return fmt.Errorf("%w: empty #set_separator", ErrBadHeader)
		}
		t.setSep = v
	case "#empty_field":
		v, err := one()
		if err != nil {
			return err
		}
		t.empty = v
	case "#unset_field":
		v, err := one()
		if err != nil {
			return err
		}
		t.unset = v
	case "#path":
		v, err := one()
		if err != nil {
			return err
		}
		if !validLogName(v) {
			return fmt.Errorf("%w: #path %q is not a log name", ErrBadHeader, validUTF8(v))
		}
		t.path = v
	case "#fields":
		if len(values) == 0 {
			return fmt.Errorf("%w: #fields names no column", ErrBadHeader)
		}
		fields := make([]string, len(values))
		for i, v := range values {
			if v == "" {
				return fmt.Errorf("%w: #fields column %d has no name", ErrBadHeader, i+1)
			}
			fields[i] = columnName(validUTF8(v))
		}
		t.fields, t.container = fields, make([]bool, len(fields))
	case "#types":
		if len(values) != len(t.fields) {
			return fmt.Errorf("%w: #types lists %d types for %d #fields columns", ErrBadHeader, len(values), len(t.fields))
		}
		for i, ty := range values {
			t.container[i] = strings.HasPrefix(ty, "set[") || strings.HasPrefix(ty, "vector[") || strings.HasPrefix(ty, "table[")
		}
	}
	return nil
}

// row turns one data line into a record.
func (t *TSVReader) row(line string) (Record, error) {
	if t.fields == nil {
		return Record{}, ErrNoHeader
	}
	cols := strings.Split(line, t.sep)
	if len(cols) != len(t.fields) {
		return Record{}, fmt.Errorf("%w: %d columns, #fields names %d", ErrColumnCount, len(cols), len(t.fields))
	}
	fields := make(map[string]string, len(cols))
	for i, raw := range cols {
		name := t.fields[i]
		switch {
		case raw == t.unset:
			continue
		case raw == t.empty:
			fields[name] = ""
		case t.container[i]:
			elems := strings.Split(raw, t.setSep)
			for j, e := range elems {
				if e == t.unset || e == t.empty {
					elems[j] = ""
				} else {
					elems[j] = unescape(e)
				}
			}
			fields[name] = strings.Join(elems, ",")
		default:
			fields[name] = unescape(raw)
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
	log := t.path
	if log == "" {
		if log = inferLog(fields); log == "" {
			return Record{}, fmt.Errorf("%w: log name (no #path header, and the columns match no known log)", ErrMissingField)
		}
	}
	return Record{Log: log, Time: tm, UID: fields["uid"], Fields: fields}, nil
}

// decodeAll decodes \xHH escapes in a header value, whatever the bytes decode to: a separator
// may be any byte.
func decodeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			hi, ok1 := unhex(s[i+2])
			lo, ok2 := unhex(s[i+3])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
