package intake

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readResult is one value returned by lineReader.next.
type readResult struct {
	line    string
	n       int
	tooLong bool
}

// readAll drains lr, failing on any error other than errLineTooLong.
func readAll(t testing.TB, lr *lineReader) []readResult {
	t.Helper()
	var out []readResult
	for {
		raw, n, err := lr.next()
		switch {
		case errors.Is(err, io.EOF):
			return out
		case errors.Is(err, errLineTooLong):
			if raw != nil {
				t.Fatalf("line %d: too-long line returned %d bytes", n, len(raw))
			}
			out = append(out, readResult{n: n, tooLong: true, line: string(lr.head)})
		case err != nil:
			t.Fatalf("line %d: unexpected error %v", n, err)
		default:
			out = append(out, readResult{line: string(raw), n: n})
		}
		if len(out) > 1<<20 {
			t.Fatal("lineReader does not terminate")
		}
	}
}

func ok(n int, line string) readResult { return readResult{line: line, n: n} }

// long is a line reported too long, with the head kept for its dead-letter copy.
func long(n int, line string) readResult {
	return readResult{n: n, tooLong: true, line: line[:min(len(line), headKept)]}
}

func TestLineReader(t *testing.T) {
	t.Parallel()
	x := func(n int) string { return strings.Repeat("x", n) }
	big := strings.Repeat("y", 100<<10) // longer than the 64 KiB read buffer

	tests := []struct {
		name string
		in   string
		max  int
		want []readResult
	}{
		{name: "empty input", in: "", max: 10, want: nil},
		{name: "one line with newline", in: "a\n", max: 10, want: []readResult{ok(1, "a")}},
		{name: "final line without newline", in: "a\nb", max: 10, want: []readResult{ok(1, "a"), ok(2, "b")}},
		{name: "only a final line without newline", in: "abc", max: 10, want: []readResult{ok(1, "abc")}},
		{name: "CRLF", in: "a\r\nb\r\n", max: 10, want: []readResult{ok(1, "a"), ok(2, "b")}},
		{name: "CRLF final line without newline", in: "a\r\nb\r", max: 10, want: []readResult{ok(1, "a"), ok(2, "b")}},
		{name: "blank lines are numbered", in: "\n\r\n\nz\n", max: 10, want: []readResult{ok(1, ""), ok(2, ""), ok(3, ""), ok(4, "z")}},
		{name: "bare CR is not a line end", in: "a\rb\n", max: 10, want: []readResult{ok(1, "a\rb")}},
		{name: "exactly max", in: x(10) + "\n", max: 10, want: []readResult{ok(1, x(10))}},
		{name: "exactly max with CRLF", in: x(10) + "\r\n", max: 10, want: []readResult{ok(1, x(10))}},
		{name: "exactly max without newline", in: x(10), max: 10, want: []readResult{ok(1, x(10))}},
		{name: "one over max", in: x(11) + "\n", max: 10, want: []readResult{long(1, x(11))}},
		{name: "one over max with CRLF", in: x(11) + "\r\n", max: 10, want: []readResult{long(1, x(11))}},
		{name: "one over max without newline", in: x(11), max: 10, want: []readResult{long(1, x(11))}},
		{name: "two over max without newline", in: x(12), max: 10, want: []readResult{long(1, x(12))}},
		{
			name: "overlong line in the middle",
			in:   "first\n" + x(50) + "\nthird\n", max: 10,
			want: []readResult{ok(1, "first"), long(2, x(50)), ok(3, "third")},
		},
		{
			name: "overlong final line without newline",
			in:   "first\n" + x(50), max: 10,
			want: []readResult{ok(1, "first"), long(2, x(50))},
		},
		{
			name: "two overlong lines in a row",
			in:   x(20) + "\n" + x(30) + "\r\nlast", max: 10,
			want: []readResult{long(1, x(20)), long(2, x(30)), ok(3, "last")},
		},
		{
			name: "line longer than the read buffer, within max",
			in:   "a\n" + big + "\nb\n", max: 1 << 20,
			want: []readResult{ok(1, "a"), ok(2, big), ok(3, "b")},
		},
		{
			name: "overlong line longer than the read buffer",
			in:   "a\n" + big + "\r\nb", max: 1000,
			want: []readResult{ok(1, "a"), long(2, big), ok(3, "b")},
		},
		{name: "max zero allows only blank lines", in: "\nx\n\r\n", max: 0, want: []readResult{ok(1, ""), long(2, "x"), ok(3, "")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, rd := range []struct {
				name string
				r    func(string) io.Reader
			}{
				{"whole", func(s string) io.Reader { return strings.NewReader(s) }},
				{"one byte at a time", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
				{"EOF with data", func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) }},
			} {
				got := readAll(t, newLineReader(rd.r(tt.in), tt.max))
				if !equalResults(got, tt.want) {
					t.Errorf("%s: got %s, want %s", rd.name, describe(got), describe(tt.want))
				}
			}
		})
	}
}

func TestLineReaderEOFIsSticky(t *testing.T) {
	t.Parallel()
	lr := newLineReader(strings.NewReader("a\n"), 10)
	readAll(t, lr)
	for range 3 {
		if _, _, err := lr.next(); !errors.Is(err, io.EOF) {
			t.Fatalf("next after EOF = %v, want io.EOF", err)
		}
	}
}

func TestLineReaderReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader("one\ntwo\nthr"), iotest.ErrReader(boom))
	lr := newLineReader(r, 100)
	for i, want := range []string{"one", "two"} {
		raw, n, err := lr.next()
		if err != nil || string(raw) != want || n != i+1 {
			t.Fatalf("next = %q, %d, %v; want %q, %d", raw, n, err, want, i+1)
		}
	}
	raw, n, err := lr.next()
	if !errors.Is(err, boom) {
		t.Fatalf("next at the failure = %q, %v; want %v", raw, err, boom)
	}
	if n != 2 {
		t.Errorf("line number at the failure = %d, want 2 (lines completed)", n)
	}
}

// FuzzLineReader checks that every byte of the input is accounted for: the lines returned and
// the lines reported too long are, in order, exactly the input split at '\n', each without its
// line end ("\n" or "\r\n"); a line is reported too long exactly when it exceeds max, with its
// first bytes (up to headKept) kept.
func FuzzLineReader(f *testing.F) {
	for _, s := range []string{
		"", "\n", "a", "a\nb", "a\r\nb\r\n", "\r\n\r\n", "\r", "a\r\r\n", "xxxxxxxxxxx\nok\n",
		`{"EventID":4662,"Channel":"Security"}` + "\n" + `[1,2]` + "\r\n",
	} {
		f.Add([]byte(s), uint16(10))
	}
	f.Add(bytes.Repeat([]byte("z"), 300), uint16(17))
	f.Fuzz(func(t *testing.T, data []byte, max16 uint16) {
		max := int(max16 % 512)
		want := expectLines(data, max)
		// The default reader, and one with the smallest buffer bufio allows, so that lines
		// longer than the buffer (ErrBufferFull) are exercised with small inputs.
		for _, lr := range []*lineReader{
			newLineReader(bytes.NewReader(data), max),
			{r: bufio.NewReaderSize(iotest.HalfReader(bytes.NewReader(data)), 16), max: max},
		} {
			got := readAll(t, lr)
			if !equalResults(got, want) {
				t.Fatalf("max %d input %q:\n got %s\nwant %s", max, data, describe(got), describe(want))
			}
		}
	})
}

// expectLines is the specification lineReader is checked against.
func expectLines(data []byte, max int) []readResult {
	if len(data) == 0 {
		return nil
	}
	segs := bytes.Split(data, []byte("\n"))
	if len(segs[len(segs)-1]) == 0 {
		segs = segs[:len(segs)-1] // the input ends with a newline
	}
	var out []readResult
	for i, s := range segs {
		s = bytes.TrimSuffix(s, []byte("\r"))
		if len(s) > max {
			out = append(out, long(i+1, string(s)))
		} else {
			out = append(out, ok(i+1, string(s)))
		}
	}
	return out
}

func equalResults(a, b []readResult) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func describe(rs []readResult) string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		switch {
		case r.tooLong:
			parts = append(parts, fmt.Sprintf("%d:too-long(head %.20q, %d bytes)", r.n, r.line, len(r.line)))
		case len(r.line) > 40:
			parts = append(parts, fmt.Sprintf("%d:%q…(%d bytes)", r.n, r.line[:20], len(r.line)))
		default:
			parts = append(parts, fmt.Sprintf("%d:%q", r.n, r.line))
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}
