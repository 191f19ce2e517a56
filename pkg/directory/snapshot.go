package directory

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A directory snapshot is the adjoin_directory bucket's entries as of one sequence of its
// stream, so that a reader can load them in a few large chunks instead of one message per
// entity, then follow the bucket from the next sequence. The layout (all integers big-endian
// or unsigned varints):
//
//	magic "ADJDIR01" (the format version is part of it)
//	stream created (int64, Unix nanoseconds) and the last sequence the entries are consistent with (uint64)
//	entries: op (1 byte: 'P' put, 'D' delete, 'X' purge), revision, key length, key,
//	         and for a put, value length and value (the entry's bytes as stored)
//	end: 'E', the number of entries (uint64), CRC-32 (Castagnoli) of everything before it
//
// The entries are those a watcher of the bucket delivered, in that order: applied in order they
// give the bucket's state at the sequence.
const snapshotMagic = "ADJDIR01"

// snapshotObject is the name of the snapshot in natsx.BucketDirectorySnapshot.
const snapshotObject = "directory"

// Snapshot record ops.
const (
	snapPut    = 'P'
	snapDelete = 'D'
	snapPurge  = 'X'
	snapEnd    = 'E'
)

// maxSnapKey and maxSnapValue bound one entry when reading: a corrupt length must not
// allocate gigabytes. A KV key is at most a subject; an entity is a few hundred bytes.
const (
	maxSnapKey   = 4 << 10
	maxSnapValue = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errSnapshot marks a snapshot that cannot be used: the caller falls back to the full load.
var errSnapshot = errors.New("directory snapshot refused")

// snapshotHead is what a snapshot says about itself before its entries.
type snapshotHead struct {
	streamCreated time.Time
	seq           uint64
}

// snapshotWriter encodes a snapshot onto w.
type snapshotWriter struct {
	w   *bufio.Writer
	crc hashWriter
	n   uint64
	buf []byte
}

type hashWriter struct {
	w   io.Writer
	sum uint32
}

func (h *hashWriter) Write(p []byte) (int, error) {
	h.sum = crc32.Update(h.sum, castagnoli, p)
	return h.w.Write(p)
}

func newSnapshotWriter(w io.Writer, head snapshotHead) (*snapshotWriter, error) {
	s := &snapshotWriter{crc: hashWriter{w: w}}
	s.w = bufio.NewWriterSize(&s.crc, 256<<10)
	b := append([]byte(nil), snapshotMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(head.streamCreated.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, head.seq)
	_, err := s.w.Write(b)
	return s, err
}

// add appends one entry.
func (s *snapshotWriter) add(op byte, rev uint64, key string, value []byte) error {
	b := append(s.buf[:0], op)
	b = binary.AppendUvarint(b, rev)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	if op == snapPut {
		b = binary.AppendUvarint(b, uint64(len(value)))
		b = append(b, value...)
	}
	s.buf = b
	s.n++
	_, err := s.w.Write(b)
	return err
}

// close writes the end record and flushes.
func (s *snapshotWriter) close() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	b := binary.BigEndian.AppendUint64([]byte{snapEnd}, s.n)
	sum := crc32.Update(s.crc.sum, castagnoli, b)
	s.crc.sum = sum
	b = binary.BigEndian.AppendUint32(b, sum)
	_, err := s.crc.w.Write(b)
	return err
}

// snapOp is the op byte of a bucket entry.
func snapOp(op jetstream.KeyValueOp) byte {
	switch op {
	case jetstream.KeyValueDelete:
		return snapDelete
	case jetstream.KeyValuePurge:
		return snapPurge
	}
	return snapPut
}

// snapshotReader decodes a snapshot. Values are cut from large slabs that are never reused:
// the loader keeps an entry's bytes until it is indexed.
type snapshotReader struct {
	r      *bufio.Reader
	crc    uint32
	n      uint64
	slab   []byte
	bucket string
}

func newSnapshotReader(r io.Reader, bucket string) (*snapshotReader, snapshotHead, error) {
	s := &snapshotReader{r: bufio.NewReaderSize(r, 256<<10), bucket: bucket}
	var h [len(snapshotMagic) + 16]byte
	if err := s.full(h[:]); err != nil {
		return nil, snapshotHead{}, fmt.Errorf("%w: header: %w", errSnapshot, err)
	}
	if string(h[:len(snapshotMagic)]) != snapshotMagic {
		return nil, snapshotHead{}, fmt.Errorf("%w: unknown format %q", errSnapshot, h[:len(snapshotMagic)])
	}
	head := snapshotHead{
		streamCreated: time.Unix(0, int64(binary.BigEndian.Uint64(h[8:]))),
		seq:           binary.BigEndian.Uint64(h[16:]),
	}
	return s, head, nil
}

// full reads len(p) bytes into the checksum.
func (s *snapshotReader) full(p []byte) error {
	if _, err := io.ReadFull(s.r, p); err != nil {
		return err
	}
	s.crc = crc32.Update(s.crc, castagnoli, p)
	return nil
}

func (s *snapshotReader) byte() (byte, error) {
	var b [1]byte
	err := s.full(b[:])
	return b[0], err
}

func (s *snapshotReader) uvarint() (uint64, error) {
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		b, err := s.byte()
		if err != nil {
			return 0, err
		}
		x |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return x, nil
		}
	}
	return 0, errors.New("varint too long")
}

// bytes reads n bytes into the slab.
func (s *snapshotReader) bytes(n int) ([]byte, error) {
	if len(s.slab) < n {
		s.slab = make([]byte, max(1<<20, n))
	}
	b := s.slab[:n:n]
	s.slab = s.slab[n:]
	return b, s.full(b)
}

// next returns the next entry, or nil at the end record once the count and checksum match.
func (s *snapshotReader) next() (*snapEntry, error) {
	op, err := s.byte()
	if err != nil {
		return nil, s.fail(err)
	}
	if op == snapEnd {
		want := s.crc
		var t [12]byte
		if _, err := io.ReadFull(s.r, t[:]); err != nil {
			return nil, s.fail(err)
		}
		want = crc32.Update(want, castagnoli, t[:8])
		if n := binary.BigEndian.Uint64(t[:8]); n != s.n {
			return nil, fmt.Errorf("%w: end record counts %d entries, read %d", errSnapshot, n, s.n)
		}
		if got := binary.BigEndian.Uint32(t[8:]); got != want {
			return nil, fmt.Errorf("%w: checksum %08x, computed %08x", errSnapshot, got, want)
		}
		return nil, nil
	}
	if op != snapPut && op != snapDelete && op != snapPurge {
		return nil, fmt.Errorf("%w: entry %d: unknown op %q", errSnapshot, s.n, op)
	}
	e := &snapEntry{bucket: s.bucket, op: op}
	if e.rev, err = s.uvarint(); err != nil {
		return nil, s.fail(err)
	}
	n, err := s.uvarint()
	if err != nil || n > maxSnapKey {
		return nil, s.fail(fmt.Errorf("key length %d: %v", n, err))
	}
	k, err := s.bytes(int(n))
	if err != nil {
		return nil, s.fail(err)
	}
	e.key = string(k)
	if op == snapPut {
		n, err := s.uvarint()
		if err != nil || n > maxSnapValue {
			return nil, s.fail(fmt.Errorf("value length %d: %v", n, err))
		}
		if e.value, err = s.bytes(int(n)); err != nil {
			return nil, s.fail(err)
		}
	}
	s.n++
	return e, nil
}

func (s *snapshotReader) fail(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // a snapshot ends with its end record, never between entries
	}
	return fmt.Errorf("%w: entry %d: %w", errSnapshot, s.n, err)
}

// snapEntry is one entry of a snapshot, as the bucket's watcher would have delivered it.
type snapEntry struct {
	bucket, key string
	value       []byte
	rev         uint64
	op          byte
}

func (e *snapEntry) Bucket() string     { return e.bucket }
func (e *snapEntry) Key() string        { return e.key }
func (e *snapEntry) Value() []byte      { return e.value }
func (e *snapEntry) Revision() uint64   { return e.rev }
func (e *snapEntry) Created() time.Time { return time.Time{} } // not kept: nothing reads it
func (e *snapEntry) Delta() uint64      { return 0 }
func (e *snapEntry) Operation() jetstream.KeyValueOp {
	switch e.op {
	case snapDelete:
		return jetstream.KeyValueDelete
	case snapPurge:
		return jetstream.KeyValuePurge
	}
	return jetstream.KeyValuePut
}
