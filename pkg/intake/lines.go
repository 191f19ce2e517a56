package intake

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
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
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its end-of-line bytes, its 1-based number, and
// errLineTooLong for an overlong line. It returns io.EOF at the end.
func (lr *lineReader) next() ([]byte, int, error) {
	lr.buf = lr.buf[:0]
	tooLong := false
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if !tooLong {
			if len(lr.buf)+len(chunk) > lr.max+2 {
				tooLong = true
				lr.buf = lr.buf[:0]
			} else {
				lr.buf = append(lr.buf, chunk...)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == nil, errors.Is(err, io.EOF):
			if errors.Is(err, io.EOF) && len(chunk) == 0 && len(lr.buf) == 0 && !tooLong {
				return nil, lr.line, io.EOF
			}
			lr.line++
			if tooLong {
				return nil, lr.line, fmt.Errorf("%w: more than %d bytes", errLineTooLong, lr.max)
			}
			return bytes.TrimRight(lr.buf, "\r\n"), lr.line, nil
		default:
			return nil, lr.line, err
		}
	}
}
