package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// headKeep is how much of an oversized message is kept for the record of its refusal.
const headKeep = 4 << 10

// errFraming means an octet-counted stream lost its framing; the connection cannot go on.
var errFraming = errors.New("syslog framing")

type framing int

const (
	framingUnknown framing = iota
	framingOctet           // RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG
	framingLine            // RFC 6587 3.4.2: SYSLOG-MSG LF
)

// framer cuts a TCP stream into messages. Unlike bufio it keeps a partial message across a
// read deadline, so the server can use deadlines to end a batch (and to stop) without losing
// bytes. The framing is chosen on the first message of the connection: a digit followed by
// digits and a space means octet counting, anything else newline-delimited.
type framer struct {
	rd   io.Reader
	buf  []byte
	r, w int
	max  int
	mode framing
	err  error // read error seen; returned once the buffered messages are consumed

	// An oversized message being skipped: its size so far, the bytes still to skip when it
	// is octet-counted, and its first bytes.
	skipping   bool
	skipLeft   int
	skipSize   int
	skipHead   []byte
	skipLastCR bool
}

func newFramer(rd io.Reader, max int) *framer {
	return &framer{rd: rd, buf: make([]byte, min(64<<10, max+16)), max: max}
}

// next returns the next message (a copy the caller owns), or, for a message longer than max,
// its first bytes and its size. A read error is returned as is; after a timeout next may be
// called again and continues where it stopped. At the end of the stream a newline-delimited
// connection's last line is returned even without its LF; a partial octet-counted message
// gives io.ErrUnexpectedEOF.
func (f *framer) next() (msg []byte, oversize int, err error) {
	for {
		msg, oversize, ok, err := f.extract()
		if err != nil || ok {
			return msg, oversize, err
		}
		if f.err != nil {
			return f.atEnd()
		}
		if err := f.fill(); err != nil {
			if isTimeout(err) {
				return nil, 0, err
			}
			f.err = err
		}
	}
}

// extract takes one message from the buffer if a whole one is there.
func (f *framer) extract() ([]byte, int, bool, error) {
	for {
		if f.skipping {
			return f.skip()
		}
		if f.mode != framingOctet {
			// Blank lines between messages carry nothing.
			for f.r < f.w && (f.buf[f.r] == '\n' || f.buf[f.r] == '\r' || f.buf[f.r] == 0) {
				f.r++
			}
		}
		if f.r == f.w {
			return nil, 0, false, nil
		}
		switch f.mode {
		case framingUnknown:
			mode, ok := detect(f.buf[f.r:f.w], f.err != nil)
			if !ok {
				return nil, 0, false, nil
			}
			f.mode = mode
		case framingOctet:
			return f.octet()
		default:
			return f.line()
		}
	}
}

// detect chooses the framing from the first bytes; ok is false until enough of them are
// there (or the stream ended).
func detect(b []byte, ended bool) (framing, bool) {
	if b[0] < '1' || b[0] > '9' {
		return framingLine, true
	}
	for i := 1; i < len(b) && i <= 10; i++ {
		switch {
		case b[i] == ' ':
			return framingOctet, true
		case b[i] < '0' || b[i] > '9':
			return framingLine, true
		}
	}
	if len(b) > 10 || ended {
		return framingLine, true
	}
	return framingUnknown, false
}

func (f *framer) octet() ([]byte, int, bool, error) {
	// Some senders end each counted frame with a newline as well.
	for f.r < f.w && (f.buf[f.r] == '\n' || f.buf[f.r] == '\r') {
		f.r++
	}
	b := f.buf[f.r:f.w]
	n, i := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i == 10 {
			return nil, 0, false, fmt.Errorf("%w: message length of more than 10 digits", errFraming)
		}
		n = n*10 + int(b[i]-'0')
	}
	switch {
	case i == len(b):
		return nil, 0, false, nil // the length is not all there yet
	case i == 0 || b[i] != ' ' || n == 0:
		return nil, 0, false, fmt.Errorf("%w: octet-counted message starts with %q, want <length> <message>", errFraming, clip(b[:min(len(b), 16)]))
	}
	if n > f.max {
		f.r += i + 1
		f.skipping, f.skipLeft, f.skipSize, f.skipHead = true, n, 0, nil
		return f.skip()
	}
	if len(b) < i+1+n {
		f.reserve(i + 1 + n)
		return nil, 0, false, nil
	}
	msg := bytes.Clone(b[i+1 : i+1+n])
	f.r += i + 1 + n
	return msg, 0, true, nil
}

func (f *framer) line() ([]byte, int, bool, error) {
	b := f.buf[f.r:f.w]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		f.r += i + 1
		msg := bytes.TrimRight(b[:i], "\r")
		if len(msg) > f.max {
			return bytes.Clone(msg[:min(headKeep, len(msg))]), len(msg), true, nil
		}
		return bytes.Clone(msg), 0, true, nil
	}
	if len(b) > f.max+1 { // +1: room for the CR of a CRLF
		f.skipping, f.skipLeft, f.skipSize, f.skipHead = true, 0, 0, nil
		return f.skip()
	}
	return nil, 0, false, nil
}

// skip discards the buffered part of an oversized message, keeping its first bytes; ok is
// true once its end was reached.
func (f *framer) skip() ([]byte, int, bool, error) {
	b := f.buf[f.r:f.w]
	n, msgBytes, done := len(b), len(b), false // consumed, of which message bytes
	if f.mode == framingOctet {
		n = min(n, f.skipLeft)
		msgBytes = n
		f.skipLeft -= n
		done = f.skipLeft == 0
	} else if i := bytes.IndexByte(b, '\n'); i >= 0 {
		n, msgBytes, done = i+1, i, true
	}
	f.skipSize += msgBytes
	if msgBytes > 0 {
		f.skipLastCR = b[msgBytes-1] == '\r'
	}
	if keep := headKeep - len(f.skipHead); keep > 0 {
		f.skipHead = append(f.skipHead, b[:min(keep, msgBytes)]...)
	}
	f.r += n
	if !done {
		return nil, 0, false, nil
	}
	f.skipping = false
	if f.mode != framingOctet && f.skipLastCR {
		// The CR of a CRLF ending is no part of the message.
		f.skipSize--
		if len(f.skipHead) == f.skipSize+1 {
			f.skipHead = f.skipHead[:f.skipSize]
		}
	}
	return f.skipHead, f.skipSize, true, nil
}

// atEnd returns what is left once the stream ended.
func (f *framer) atEnd() ([]byte, int, error) {
	switch {
	case f.skipping && f.mode == framingLine:
		f.skipping = false
		f.skipSize += f.w - f.r
		if keep := headKeep - len(f.skipHead); keep > 0 {
			f.skipHead = append(f.skipHead, f.buf[f.r:f.r+min(keep, f.w-f.r)]...)
		}
		f.r = f.w
		return f.skipHead, f.skipSize, nil
	case f.r < f.w && f.mode != framingOctet:
		msg := bytes.TrimRight(f.buf[f.r:f.w], "\r\x00")
		f.r = f.w
		if len(msg) == 0 {
			return nil, 0, f.err
		}
		return bytes.Clone(msg), 0, nil
	case f.r < f.w || f.skipping:
		f.r, f.skipping = f.w, false
		if errors.Is(f.err, io.EOF) {
			return nil, 0, io.ErrUnexpectedEOF
		}
	}
	return nil, 0, f.err
}

// reserve makes room for a message of n bytes at the read position.
func (f *framer) reserve(n int) {
	if n <= len(f.buf)-f.r {
		return
	}
	if n > len(f.buf) {
		nb := make([]byte, max(n, 2*len(f.buf)))
		f.w = copy(nb, f.buf[f.r:f.w])
		f.buf, f.r = nb, 0
		return
	}
	f.w = copy(f.buf, f.buf[f.r:f.w])
	f.r = 0
}

// fill reads more bytes, first making room at the end of the buffer.
func (f *framer) fill() error {
	if f.r == f.w {
		f.r, f.w = 0, 0
	}
	if f.w == len(f.buf) {
		if f.r > 0 {
			f.w = copy(f.buf, f.buf[f.r:f.w])
			f.r = 0
		} else {
			// A line longer than the buffer: grow up to max+2 (then it is skipped).
			nb := make([]byte, min(2*len(f.buf), f.max+16))
			if len(nb) <= len(f.buf) {
				return fmt.Errorf("%w: buffer full", errFraming) // cannot happen: lines past max are skipped
			}
			f.w = copy(nb, f.buf[f.r:f.w])
			f.buf = nb
		}
	}
	n, err := f.rd.Read(f.buf[f.w:])
	f.w += n
	if n > 0 && err != nil && !isTimeout(err) {
		// Keep the bytes; report the error on the next call.
		f.err = err
		return nil
	}
	return err
}
