package counts

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"iter"
	"maps"
	"slices"
)

// A snapshot is the header (snapshotMagic, then the codec version as a uvarint), the fold
// sequence, the entities in key order, and a CRC-32C of everything before it. Per entity: its key,
// per side the counters and the floor (first and last activity are recomputed on reading), the
// alerts held in full and the tombstones in hash order, then per side the recent list.
const (
	snapshotMagic   = "ADJLEDGR"
	snapshotVersion = 1
	// maxSnapshotString bounds an entity key or alert id read from a snapshot: what one NATS
	// message can carry, so that every snapshot WriteTo writes reads back.
	maxSnapshotString = 1 << 20
)

// ErrSnapshot is wrapped by every error ReadFrom returns on a snapshot it refuses.
var ErrSnapshot = errors.New("counts: bad ledger snapshot")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteTo encodes the whole ledger (a snapshot). The encoding is deterministic for a given state.
func (l *Ledger) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w, crc: crc32.New(castagnoli)}
	bw := bufio.NewWriterSize(io.MultiWriter(cw, cw.crc), 64<<10)
	var buf []byte
	flush := func() error {
		_, err := bw.Write(buf)
		buf = buf[:0]
		return err
	}
	buf = append(buf, snapshotMagic...)
	buf = binary.AppendUvarint(buf, snapshotVersion)
	buf = binary.AppendUvarint(buf, l.seq)
	buf = binary.AppendUvarint(buf, uint64(len(l.entities)))
	for _, key := range slices.Sorted(maps.Keys(l.entities)) {
		buf = l.entities[key].append(buf, key)
		if err := flush(); err != nil {
			return cw.n, err
		}
	}
	if err := flush(); err != nil {
		return cw.n, err
	}
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	_, err := cw.Write(binary.LittleEndian.AppendUint32(nil, cw.crc.Sum32()))
	return cw.n, err
}

func (e *entity) append(buf []byte, key string) []byte {
	buf = appendString(buf, key)
	for _, s := range e.sides {
		if s == nil {
			s = &noCounts
		}
		buf = binary.AppendUvarint(buf, uint64(s.total))
		buf = binary.AppendUvarint(buf, uint64(s.open))
		for i := range numSeverities {
			buf = binary.AppendUvarint(buf, uint64(s.bySev[i]))
			buf = binary.AppendUvarint(buf, uint64(s.openBySev[i]))
		}
		buf = binary.AppendVarint(buf, s.floorFirst)
		buf = binary.AppendVarint(buf, s.floorLast)
	}
	buf = binary.AppendUvarint(buf, uint64(e.alerts.len()))
	for _, h := range sortedIDs(e.alerts.all) {
		s, _ := e.alerts.get(h)
		buf = append(buf, h[:]...)
		buf = binary.AppendVarint(buf, s.version)
		buf = binary.AppendVarint(buf, s.first)
		buf = binary.AppendVarint(buf, s.last)
		buf = binary.AppendUvarint(buf, uint64(s.touched))
		buf = append(buf, s.side, s.sev, s.status)
	}
	buf = binary.AppendUvarint(buf, uint64(len(e.tombs)))
	for _, h := range sortedIDs(maps.All(e.tombs)) {
		t := e.tombs[h]
		buf = append(buf, h[:]...)
		buf = binary.AppendVarint(buf, t.version)
		buf = append(buf, t.side, t.sev, t.status)
	}
	for _, list := range e.recent {
		buf = binary.AppendUvarint(buf, uint64(len(list)))
		for _, r := range list {
			buf = binary.AppendUvarint(buf, r.seq)
			buf = appendString(buf, r.id)
			buf = binary.AppendUvarint(buf, uint64(len(r.keys)))
			for _, k := range r.keys {
				buf = appendString(buf, k)
			}
		}
	}
	return buf
}

// noCounts is what a side without counters writes.
var noCounts = newSideCounts()

func sortedIDs[V any](all iter.Seq2[alertID, V]) []alertID {
	var ids []alertID
	for h := range all {
		ids = append(ids, h)
	}
	slices.SortFunc(ids, func(a, b alertID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

func appendString(buf []byte, s string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(s))), s...)
}

type countWriter struct {
	w   io.Writer
	n   int64
	crc hash.Hash32
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadFrom replaces the ledger with the snapshot r holds, read to its end. A snapshot that is not
// one WriteTo wrote (bad header, lengths, values, checksum, or bytes after it) is refused with an
// error wrapping ErrSnapshot and the ledger is left unchanged. It never panics, and allocates in
// proportion to the bytes it has read, never to a length it was told.
func (l *Ledger) ReadFrom(r io.Reader) (int64, error) {
	sr := &snapshotReader{r: bufio.NewReaderSize(r, 64<<10), crc: crc32.New(castagnoli)}
	next, err := sr.ledger()
	if err != nil {
		return sr.n, fmt.Errorf("%w: %v (at byte %d)", ErrSnapshot, err, sr.n)
	}
	*l = *next
	return sr.n, nil
}

func (sr *snapshotReader) ledger() (*Ledger, error) {
	magic := sr.bytes(len(snapshotMagic))
	if sr.err != nil || string(magic) != snapshotMagic {
		return nil, errors.New("not a ledger snapshot")
	}
	if v := sr.uvarint(); sr.err == nil && v != snapshotVersion {
		return nil, fmt.Errorf("codec version %d, this build reads %d", v, snapshotVersion)
	}
	l := NewLedger()
	l.seq = sr.uvarint()
	n := sr.uvarint()
	prev := ""
	for i := uint64(0); i < n && sr.err == nil; i++ {
		key := sr.string()
		if sr.err == nil && (key == "" || i > 0 && key <= prev) {
			return nil, fmt.Errorf("entity key %q out of order", key)
		}
		prev = key
		e, err := sr.entity(l.seq)
		if err != nil {
			return nil, fmt.Errorf("entity %q: %w", key, err)
		}
		l.entities[key] = e
	}
	if sr.err != nil {
		return nil, sr.err
	}
	sum := sr.crc.Sum32()
	if got := sr.bytes(4); sr.err != nil || binary.LittleEndian.Uint32(got) != sum {
		return nil, errors.New("checksum mismatch")
	}
	if _, err := sr.r.ReadByte(); err != io.EOF {
		return nil, errors.New("bytes after the snapshot")
	}
	return l, nil
}

func (sr *snapshotReader) entity(seq uint64) (*entity, error) {
	e := newEntity()
	for i := range e.sides {
		s := newSideCounts()
		s.total, s.open = sr.count(), sr.count()
		for j := range numSeverities {
			s.bySev[j], s.openBySev[j] = sr.count(), sr.count()
		}
		s.floorFirst, s.floorLast = sr.varint(), sr.varint()
		if s != noCounts {
			e.sides[i] = &s
		}
	}
	n := sr.uvarint()
	for i := uint64(0); i < n && sr.err == nil; i++ {
		h := sr.id()
		s := alertState{version: sr.varint(), first: sr.varint(), last: sr.varint()}
		touched := sr.uvarint()
		s.side, s.sev, s.status = sr.byte(), sr.byte(), sr.byte()
		if sr.err == nil && (touched > 1<<32-1 || !validState(s.version, s.side, s.sev, s.status) || s.first == noLast || s.last == noFirst) {
			return nil, errors.New("bad alert state")
		}
		s.touched = uint32(touched)
		if _, dup := e.alerts.get(h); dup {
			return nil, errors.New("alert held twice")
		}
		e.alerts.put(h, s)
	}
	n = sr.uvarint()
	for i := uint64(0); i < n && sr.err == nil; i++ {
		if e.tombs == nil {
			e.tombs = map[alertID]tombstone{}
		}
		h := sr.id()
		t := tombstone{version: sr.varint(), side: sr.byte(), sev: sr.byte(), status: sr.byte()}
		if sr.err == nil && !validState(t.version, t.side, t.sev, t.status) {
			return nil, errors.New("bad tombstone")
		}
		_, dupAlert := e.alerts.get(h)
		if _, dup := e.tombs[h]; dup || dupAlert {
			return nil, errors.New("alert held twice")
		}
		e.tombs[h] = t
	}
	listed := map[alertID]bool{}
	for side := range e.recent {
		n := sr.uvarint()
		if n > RecentMax {
			return nil, errors.New("recent list too long")
		}
		for i := uint64(0); i < n && sr.err == nil; i++ {
			r := recentAlert{seq: sr.uvarint(), id: sr.string()}
			r.hash = idOf(r.id)
			k := sr.uvarint()
			if k > MaxEntityKeys {
				return nil, errors.New("too many entity keys")
			}
			for j := uint64(0); j < k && sr.err == nil; j++ {
				r.keys = append(r.keys, sr.string())
			}
			s, held := e.alerts.get(r.hash)
			list := e.recent[side]
			if sr.err == nil && (!held || int(s.side) != side || listed[r.hash] || r.seq > seq ||
				len(list) > 0 && list[len(list)-1].seq <= r.seq) {
				return nil, errors.New("bad recent list")
			}
			listed[r.hash] = true
			e.recent[side] = append(list, r)
		}
	}
	if sr.err != nil {
		return nil, sr.err
	}
	return e, e.check()
}

// check verifies that the counters hold every alert's contribution and add up, then recomputes
// first and last activity.
func (e *entity) check() error {
	var held [numSides]sideCounts
	for _, s := range e.alerts.all {
		held[s.side].count(s.sev, s.open())
	}
	for _, t := range e.tombs {
		held[t.side].count(t.sev, t.open())
	}
	for i := range e.sides {
		h := &held[i]
		if e.sides[i] == nil {
			if h.total > 0 {
				return errors.New("counters do not hold the alerts")
			}
			continue
		}
		s := e.sides[i]
		var total, open int64
		for j := range numSeverities {
			if s.openBySev[j] > s.bySev[j] || h.bySev[j] > s.bySev[j] || h.openBySev[j] > s.openBySev[j] {
				return errors.New("counters do not hold the alerts")
			}
			total += s.bySev[j]
			open += s.openBySev[j]
		}
		if total != s.total || open != s.open || s.floorFirst == noLast || s.floorLast == noFirst {
			return errors.New("counters do not add up")
		}
		e.recompute(uint8(i))
	}
	return nil
}

func validState(version int64, side, sev, status uint8) bool {
	return version >= 1 && int(side) < numSides && int(sev) < numSeverities && status <= 3
}

// snapshotReader reads a snapshot's values, remembering the first error (later reads return
// zeroes), counting the bytes and summing them.
type snapshotReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	n   int64
	err error
	one [1]byte
}

func (sr *snapshotReader) ReadByte() (byte, error) {
	if sr.err != nil {
		return 0, sr.err
	}
	b, err := sr.r.ReadByte()
	if err != nil {
		sr.fail(err)
		return 0, sr.err
	}
	sr.n++
	sr.one[0] = b
	sr.crc.Write(sr.one[:])
	return b, nil
}

func (sr *snapshotReader) fail(err error) {
	if sr.err == nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		sr.err = err
	}
}

func (sr *snapshotReader) byte() byte {
	b, _ := sr.ReadByte()
	return b
}

// bytes reads n bytes, in chunks, so that a length read from garbage allocates no more than the
// bytes that are there.
func (sr *snapshotReader) bytes(n int) []byte {
	p := make([]byte, 0, min(n, 4096))
	for len(p) < n && sr.err == nil {
		start := len(p)
		p = slices.Grow(p, min(n-start, 64<<10))
		p = p[:start+min(n-start, 64<<10)]
		m, err := io.ReadFull(sr.r, p[start:])
		sr.n += int64(m)
		sr.crc.Write(p[start : start+m])
		if err != nil {
			sr.fail(err)
		}
	}
	if len(p) < n {
		// Failed: zeroes for the fixed-size reads, nothing for strings (read no further).
		return make([]byte, min(n, 64))
	}
	return p
}

func (sr *snapshotReader) uvarint() uint64 {
	v, err := binary.ReadUvarint(sr)
	if err != nil {
		sr.fail(err)
		return 0
	}
	return v
}

func (sr *snapshotReader) varint() int64 {
	v, err := binary.ReadVarint(sr)
	if err != nil {
		sr.fail(err)
		return 0
	}
	return v
}

// count reads a counter: at most 2^56, so that sums of counters cannot overflow.
func (sr *snapshotReader) count() int64 {
	v := sr.uvarint()
	if v > 1<<56 {
		sr.fail(errors.New("counter out of range"))
		return 0
	}
	return int64(v)
}

func (sr *snapshotReader) string() string {
	n := sr.uvarint()
	if n > maxSnapshotString {
		sr.fail(errors.New("string too long"))
		return ""
	}
	return string(sr.bytes(int(n)))
}

func (sr *snapshotReader) id() alertID {
	return alertID(sr.bytes(len(alertID{})))
}
