package counts

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

// decoder reads a snapshot's values from r, remembering the first error (later reads return
// zeroes).
type decoder struct {
	r       *bufio.Reader
	version uint64
	// loose is set once a recent entry shows an alert neither held nor tombstoned.
	loose bool
	err   error
}

var errTruncated = errors.New("truncated")

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	v, err := d.r.ReadByte()
	if err != nil {
		d.fail(errTruncated)
		return 0
	}
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	if err != nil {
		d.fail(errors.New("bad or truncated varint"))
		return 0
	}
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(d.r)
	if err != nil {
		d.fail(errors.New("bad or truncated varint"))
		return 0
	}
	return v
}

// count reads a counter: at most 2^56, so that sums of counters cannot overflow.
func (d *decoder) count() int64 {
	v := d.uvarint()
	if v > 1<<56 {
		d.fail(errors.New("counter out of range"))
		return 0
	}
	return int64(v)
}

// string reads a string of at most limit bytes.
func (d *decoder) string(limit int) string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(limit) {
		d.fail(fmt.Errorf("string of %d bytes, at most %d", n, limit))
		return ""
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.fail(errTruncated)
		return ""
	}
	return string(b)
}

func (d *decoder) id() alertID {
	var h alertID
	if d.err != nil {
		return h
	}
	if _, err := io.ReadFull(d.r, h[:]); err != nil {
		d.fail(errTruncated)
	}
	return h
}

// tailReader reads src up to max bytes through a fixed buffer, holding back the last 4 bytes
// (the checksum, in tail() once src ends): what it passes on goes into crc.
type tailReader struct {
	src        io.Reader
	crc        hash.Hash32
	max        int64
	n          int64 // bytes read from src
	buf        []byte
	start, end int
	srcErr     error
	tooLong    bool
	eof        bool
}

func (t *tailReader) Read(p []byte) (int, error) {
	if t.buf == nil {
		t.buf = make([]byte, 32<<10)
	}
	for len(p) > 0 {
		if ready := t.end - t.start - 4; ready > 0 {
			n := copy(p, t.buf[t.start:t.start+ready])
			t.crc.Write(p[:n]) //nolint:errcheck // a hash never fails
			t.start += n
			return n, nil
		}
		if t.eof {
			return 0, io.EOF
		}
		t.end = copy(t.buf, t.buf[t.start:t.end])
		t.start = 0
		n, err := t.src.Read(t.buf[t.end:])
		t.n += int64(n)
		t.end += n
		if t.n > t.max {
			t.tooLong, t.eof, t.start = true, true, t.end
			return 0, io.EOF
		}
		if err != nil {
			t.eof = true
			if !errors.Is(err, io.EOF) {
				t.srcErr = err
			}
		}
	}
	return 0, nil
}

// tail returns the bytes held back: the checksum when src held at least 4 bytes.
func (t *tailReader) tail() []byte { return t.buf[t.start:t.end] }
