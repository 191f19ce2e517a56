package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
)

// choppy returns its data in pieces of at most n bytes and a deadline error between pieces,
// as a connection read with short deadlines does.
type choppy struct {
	data    []byte
	n       int
	timeout bool
}

func (c *choppy) Read(p []byte) (int, error) {
	if c.timeout = !c.timeout; c.timeout {
		return 0, os.ErrDeadlineExceeded
	}
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.data))
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}

type frame struct {
	msg      string
	oversize int
}

// readFrames reads every frame, retrying after deadline errors, until the stream ends.
func readFrames(t testing.TB, f *framer) ([]frame, error) {
	t.Helper()
	var out []frame
	for range 1 << 20 {
		msg, over, err := f.next()
		switch {
		case isTimeout(err):
			continue
		case err != nil:
			return out, err
		}
		out = append(out, frame{string(msg), over})
	}
	t.Fatal("framer never reached the end")
	return nil, nil
}

func TestFramer(t *testing.T) {
	t.Parallel()
	long := string(bytes.Repeat([]byte("L"), 40))
	tests := []struct {
		name    string
		in      string
		max     int
		want    []frame
		wantErr error
	}{
		{"octet", "3 abc5 hello", 16, []frame{{"abc", 0}, {"hello", 0}}, io.EOF},
		{"octet with newlines between", "3 abc\n5 hello\r\n", 16, []frame{{"abc", 0}, {"hello", 0}}, io.EOF},
		{"octet oversized", "40 " + long + "2 ok", 16, []frame{{long, 40}, {"ok", 0}}, io.EOF},
		{"octet cut short", "3 abc5 hel", 16, []frame{{"abc", 0}}, io.ErrUnexpectedEOF},
		{"octet framing lost", "3 abcxyz", 16, []frame{{"abc", 0}}, errFraming},
		{"a zero length is no octet count", "0 ", 16, []frame{{"0 ", 0}}, io.EOF},
		{"octet zero length later", "1 a0 ", 16, []frame{{"a", 0}}, errFraming},
		{"octet length too long", "3 abc12345678901 x", 1 << 30, []frame{{"abc", 0}}, errFraming},
		{"line", "abc\nhello\r\n\n\nlast", 16, []frame{{"abc", 0}, {"hello", 0}, {"last", 0}}, io.EOF},
		{"line oversized", "ab\n" + long + "\r\nok\n", 16, []frame{{"ab", 0}, {long, 40}, {"ok", 0}}, io.EOF},
		{"line oversized at the end", "ab\n" + long, 16, []frame{{"ab", 0}, {long, 40}}, io.EOF},
		{"digits without space are a line", "12345678901234\n", 64, []frame{{"12345678901234", 0}}, io.EOF},
		{"short digits at the end are a line", "12", 64, []frame{{"12", 0}}, io.EOF},
		{"empty", "", 16, nil, io.EOF},
	}
	for _, tt := range tests {
		for _, piece := range []int{1, 3, 1000} {
			t.Run(fmt.Sprintf("%s/%d", tt.name, piece), func(t *testing.T) {
				t.Parallel()
				got, err := readFrames(t, newFramer(&choppy{data: []byte(tt.in), n: piece}, tt.max))
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("error = %v, want %v", err, tt.wantErr)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("frames = %+v, want %+v", got, tt.want)
				}
			})
		}
	}
}

// FuzzFramer checks that any stream ends without panic, and that octet-counted and
// newline-delimited encodings of the same messages read back whole whatever the chunking.
func FuzzFramer(f *testing.F) {
	f.Add([]byte("3 abc5 hello"), uint8(3), uint8(16))
	f.Add([]byte("abc\nhello\r\n"), uint8(1), uint8(4))
	f.Add([]byte("<13>1 - h a - - - x\x00y"), uint8(7), uint8(200))
	f.Fuzz(func(t *testing.T, data []byte, piece, max uint8) {
		if len(data) > 8<<10 {
			// Longer inputs find nothing new and make the fuzzer spend its time minimising.
			t.Skip()
		}
		n, limit := int(piece)%64+1, int(max)+1
		if _, err := readFrames(t, newFramer(&choppy{data: data, n: n}, limit)); err == nil {
			t.Fatal("stream ended without error")
		}
		// The input's NUL-separated parts as messages.
		var msgs [][]byte
		for _, m := range bytes.Split(data, []byte{0}) {
			if len(m) > 0 {
				msgs = append(msgs, m)
			}
		}
		var octets bytes.Buffer
		for _, m := range msgs {
			fmt.Fprintf(&octets, "%d %s", len(m), m)
		}
		got, err := readFrames(t, newFramer(&choppy{data: octets.Bytes(), n: n}, limit))
		if len(msgs) > 0 && !errors.Is(err, io.EOF) || len(got) != len(msgs) {
			t.Fatalf("octet-counted: %d frames, err %v; want %d", len(got), err, len(msgs))
		}
		for i, m := range msgs {
			want := frame{string(m), 0}
			if len(m) > limit {
				want = frame{string(m[:min(len(m), headKeep)]), len(m)}
			}
			if got[i] != want {
				t.Fatalf("octet-counted frame %d = %+v, want %+v", i, got[i], want)
			}
		}
	})
}
