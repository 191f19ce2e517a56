package counts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// ErrSnapshot is wrapped by every error ReadFrom returns on a snapshot it refuses.
var ErrSnapshot = errors.New("counts: bad ledger snapshot")

// ReadFrom replaces the ledger with the snapshot r holds, read to its end. A snapshot that is not
// one WriteTo wrote (bad header, checksum, lengths or values, bytes after it) is refused with an
// error wrapping ErrSnapshot, and the ledger is left unchanged. It never panics, and allocates in
// proportion to the bytes r holds, never to a length it was told.
func (l *Ledger) ReadFrom(r io.Reader) (int64, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return int64(len(data)), fmt.Errorf("counts: read ledger snapshot: %w", err)
	}
	next, err := parseSnapshot(data)
	if err != nil {
		return int64(len(data)), fmt.Errorf("%w: %v", ErrSnapshot, err)
	}
	*l = *next
	return int64(len(data)), nil
}

func parseSnapshot(data []byte) (*Ledger, error) {
	if len(data) < len(snapshotMagic)+4 || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return nil, errors.New("not a ledger snapshot")
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(body):]) {
		return nil, errors.New("checksum mismatch")
	}
	d := &decoder{b: body[len(snapshotMagic):]}
	if v := d.uvarint(); d.err == nil && v != snapshotVersion {
		return nil, fmt.Errorf("codec version %d, this build reads %d", v, snapshotVersion)
	}
	l := NewLedger()
	l.seq = d.uvarint()
	n := d.uvarint()
	prev := ""
	for i := uint64(0); i < n && d.err == nil; i++ {
		key := d.string()
		if d.err == nil && (key == "" || i > 0 && key <= prev) {
			return nil, fmt.Errorf("entity key %q out of order", key)
		}
		prev = key
		e, err := d.entity(key, l.seq)
		if err != nil {
			return nil, fmt.Errorf("entity %q: %w", key, err)
		}
		l.entities[key] = e
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) > 0 {
		return nil, errors.New("bytes after the entities")
	}
	return l, nil
}

func (d *decoder) entity(key string, seq uint64) (*entity, error) {
	e := newEntity()
	for i := range e.sides {
		s := newSideCounts()
		s.total, s.open = d.count(), d.count()
		for j := range numSeverities {
			s.bySev[j], s.openBySev[j] = d.count(), d.count()
		}
		s.floorFirst, s.floorLast = d.varint(), d.varint()
		if s != noCounts {
			e.sides[i] = &s
		}
	}
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		h := d.id()
		s := alertState{version: d.varint(), first: d.varint(), last: d.varint()}
		touched := d.uvarint()
		s.side, s.sev, s.status = d.byte(), d.byte(), d.byte()
		if d.err == nil && (touched > 1<<32-1 || !validState(s.version, s.side, s.sev, s.status) || s.first == noLast || s.last == noFirst) {
			return nil, errors.New("bad alert state")
		}
		s.touched = uint32(touched)
		if _, dup := e.alerts.get(h); dup {
			return nil, errors.New("alert held twice")
		}
		e.alerts.put(h, s)
	}
	n = d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		if e.tombs == nil {
			e.tombs = map[alertID]tombstone{}
		}
		h := d.id()
		t := tombstone{version: d.varint(), side: d.byte(), sev: d.byte(), status: d.byte()}
		if d.err == nil && !validState(t.version, t.side, t.sev, t.status) {
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
		n := d.uvarint()
		if n > RecentMax {
			return nil, errors.New("recent list too long")
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			r := recentAlert{seq: d.uvarint(), id: d.string()}
			r.hash = idOf(r.id)
			switch k := d.uvarint(); {
			case k == 0:
				r.keys = e.selfKeys(key, []string{key})
			case k-1 > MaxEntityKeys:
				return nil, errors.New("too many entity keys")
			default:
				for j := uint64(0); j < k-1 && d.err == nil; j++ {
					r.keys = append(r.keys, d.string())
				}
			}
			s, held := e.alerts.get(r.hash)
			list := e.recent[side]
			if d.err == nil && (!held || int(s.side) != side || listed[r.hash] || r.seq > seq ||
				len(list) > 0 && list[len(list)-1].seq <= r.seq) {
				return nil, errors.New("bad recent list")
			}
			listed[r.hash] = true
			e.recent[side] = append(list, r)
		}
	}
	if d.err != nil {
		return nil, d.err
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

// decoder reads a snapshot's values from b, remembering the first error (later reads return
// zeroes).
type decoder struct {
	b   []byte
	err error
}

var errTruncated = errors.New("truncated")

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail(errTruncated)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if d.err != nil || n <= 0 {
		d.fail(errors.New("bad or truncated varint"))
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if d.err != nil || n <= 0 {
		d.fail(errors.New("bad or truncated varint"))
		return 0
	}
	d.b = d.b[n:]
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

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail(errTruncated)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > maxSnapshotString {
		d.fail(errors.New("string too long"))
		return ""
	}
	return string(d.bytes(n))
}

func (d *decoder) id() alertID {
	var h alertID
	copy(h[:], d.bytes(uint64(len(h))))
	return h
}
