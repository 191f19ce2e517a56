package intake

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// errLineTooLong marks a line longer than the limit; the reader skips past it and goes on.
var errLineTooLong = errors.New("line too long")

// lineReader yields the lines of an NDJSON body. Unlike bufio.Scanner it survives an overlong
// line: that line is reported and skipped, and reading continues with the next one.
type lineReader struct {
	r    *bufio.Reader
	max  int
	buf  []byte
	line int
	// skipped is a digest of the raw bytes of the last line reported too long: the line is
	// not kept, but its dead-letter copy still needs an id that tells it from other lines.
	skipped string
	// head is the first bytes (headKept at most) of the last line reported too long, for its
	// dead-letter copy.
	head []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its end-of-line bytes ("\n" or "\r\n"), its 1-based
// number, and errLineTooLong for a line of more than max bytes without them. It returns io.EOF
// at the end.
func (lr *lineReader) next() ([]byte, int, error) {
	lr.buf, lr.head = lr.buf[:0], nil
	var sum hash.Hash // digest of an overlong line, nil until the line outgrows the buffer
	var n int         // bytes of an overlong line read so far, its end included
	var last [2]byte  // its last two bytes, for its end of line
	for {
		chunk, err := lr.r.ReadSlice('\n')
		switch {
		case sum != nil:
			sum.Write(chunk)
			lr.keepHead(chunk)
		case len(lr.buf)+len(chunk) > lr.max+2:
			// Longer than max even without a "\r\n": stop keeping it, but for its head.
			sum = sha256.New()
			sum.Write(lr.buf)
			sum.Write(chunk)
			lr.keepHead(lr.buf)
			lr.keepHead(chunk)
			n, last = len(lr.buf), lastTwo(last, lr.buf)
			lr.buf = lr.buf[:0]
		default:
			lr.buf = append(lr.buf, chunk...)
		}
		if sum != nil {
			n, last = n+len(chunk), lastTwo(last, chunk)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == nil, errors.Is(err, io.EOF):
			if errors.Is(err, io.EOF) && len(chunk) == 0 && len(lr.buf) == 0 && sum == nil {
				return nil, lr.line, io.EOF
			}
			lr.line++
			line := bytes.TrimSuffix(bytes.TrimSuffix(lr.buf, []byte("\n")), []byte("\r"))
			if sum == nil && len(line) > lr.max {
				sum = sha256.New()
				sum.Write(lr.buf)
				lr.keepHead(line)
			} else if sum != nil {
				// The head holds the line's end too when the line is short (a small max):
				// "\n", then "\r", are trimmed as from a line kept whole.
				size := n
				switch {
				case last[1] == '\n' && last[0] == '\r' && n >= 2:
					size -= 2
				case last[1] == '\n', last[1] == '\r':
					size--
				}
				lr.head = lr.head[:min(len(lr.head), size)]
			}
			if sum != nil {
				lr.skipped = hex.EncodeToString(sum.Sum(nil))
				return nil, lr.line, fmt.Errorf("%w: more than %d bytes", errLineTooLong, lr.max)
			}
			return line, lr.line, nil
		default:
			return nil, lr.line, err
		}
	}
}

// keepHead adds b to the head of an overlong line, up to headKept bytes.
func (lr *lineReader) keepHead(b []byte) {
	if room := headKept - len(lr.head); room > 0 {
		lr.head = append(lr.head, b[:min(len(b), room)]...)
	}
}

// lastTwo returns the last two bytes of what was read, given those before b and b.
func lastTwo(prev [2]byte, b []byte) [2]byte {
	switch len(b) {
	case 0:
		return prev
	case 1:
		return [2]byte{prev[1], b[0]}
	}
	return [2]byte{b[len(b)-2], b[len(b)-1]}
}
