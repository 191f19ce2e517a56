package counts

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
)

// ErrSnapshot is wrapped by every error ReadFrom returns on a snapshot it refuses.
var ErrSnapshot = errors.New("counts: bad ledger snapshot")

// MaxSnapshotBytes bounds a snapshot: WriteTo fails past it, ReadFrom refuses what is longer.
// A ledger at its cap of held alerts takes some 100 MB (see the package doc); the rest is room
// for entities' counters and recent lists.
const MaxSnapshotBytes = 2 << 30

// ReadFrom replaces the ledger with the snapshot r holds (MaxHeld stays), read to its end through
// a bounded buffer, never whole. A snapshot that is not one WriteTo wrote (bad header, checksum,
// lengths or values, bytes after it, longer than MaxSnapshotBytes) is refused with an error
// wrapping ErrSnapshot, and the ledger is left unchanged. It never panics, and allocates in
// proportion to what it has read, never to a length it was told.
func (l *Ledger) ReadFrom(r io.Reader) (int64, error) { return l.readFrom(r, MaxSnapshotBytes) }

// readFrom is ReadFrom with the bound on the snapshot's size.
func (l *Ledger) readFrom(r io.Reader, limit int64) (int64, error) {
	tr := &tailReader{src: r, crc: crc32.New(castagnoli), max: limit}
	d := &decoder{r: bufio.NewReaderSize(tr, 64<<10)}
	next, err := d.snapshot()
	if err == nil {
		err = d.end(tr)
	}
	if tr.tooLong {
		err = fmt.Errorf("longer than %d bytes", limit)
	}
	if tr.srcErr != nil {
		return tr.n, fmt.Errorf("counts: read ledger snapshot: %w", tr.srcErr)
	}
	if err != nil {
		return tr.n, fmt.Errorf("%w: %v", ErrSnapshot, err)
	}
	next.MaxHeld = l.MaxHeld
	*l = *next
	return tr.n, nil
}

// end checks that the snapshot ends after its entities with the checksum of what came before.
func (d *decoder) end(tr *tailReader) error {
	if _, err := d.r.ReadByte(); err == nil {
		return errors.New("bytes after the entities")
	}
	if tr.srcErr != nil || tr.tooLong {
		return errors.New("not read to its end")
	}
	if len(tr.tail()) < 4 {
		return errTruncated
	}
	if tr.crc.Sum32() != binary.LittleEndian.Uint32(tr.tail()) {
		return errors.New("checksum mismatch")
	}
	return nil
}

func (d *decoder) snapshot() (*Ledger, error) {
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(d.r, magic); err != nil || string(magic) != snapshotMagic {
		return nil, errors.New("not a ledger snapshot")
	}
	d.version = d.uvarint()
	if d.err == nil && d.version != 1 && d.version != snapshotVersion {
		return nil, fmt.Errorf("codec version %d, this build reads 1 and %d", d.version, snapshotVersion)
	}
	l := NewLedger()
	l.seq = d.uvarint()
	n := d.uvarint()
	prev := ""
	for i := uint64(0); i < n && d.err == nil; i++ {
		key := d.string(MaxKeyBytes)
		if d.err == nil && (key == "" || i > 0 && key <= prev) {
			return nil, fmt.Errorf("entity key %q out of order", key)
		}
		prev = key
		e, err := d.entity(key, l.seq)
		if err != nil {
			return nil, fmt.Errorf("entity %q: %w", key, err)
		}
		l.entities[key] = e
		l.held += e.alerts.len() + len(e.tombs)
		l.loose = l.loose || d.loose
	}
	if d.err != nil {
		return nil, d.err
	}
	return l, nil
}

func (d *decoder) entity(key string, seq uint64) (*entity, error) {
	e := newEntity()
	for i := range e.sides {
		s := newSideCounts()
		total, open := d.count(), d.count()
		for j := range numSeverities {
			s.bySev[j], s.openBySev[j] = d.count(), d.count()
		}
		s.floorFirst, s.floorLast = d.varint(), d.varint()
		if d.err == nil && (total != s.total() || open != s.open()) {
			return nil, errors.New("counters do not add up")
		}
		if s != noCounts {
			e.sides[i] = &s
		}
	}
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		h := d.id()
		s, err := d.state()
		if err != nil {
			return nil, err
		}
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
		t := tombstone{version: d.varint(), touched: unknownTouched}
		if d.version > 1 {
			t.touched = d.touched()
		}
		t.side, t.sev, t.status = d.byte(), d.byte(), d.byte()
		if d.err == nil && !validState(t.version, t.side, t.sev, t.status) {
			return nil, errors.New("bad tombstone")
		}
		_, dupAlert := e.alerts.get(h)
		if _, dup := e.tombs[h]; dup || dupAlert {
			return nil, errors.New("alert held twice")
		}
		e.tombs[h] = t
	}
	listed := map[string]bool{}
	for side := range numSides {
		n := d.uvarint()
		if n > RecentMax {
			return nil, errors.New("recent list too long")
		}
		var last uint64
		for i := uint64(0); i < n && d.err == nil; i++ {
			r, err := d.recent(key)
			if err != nil {
				return nil, err
			}
			h := idOf(r.id)
			held, ok := e.alerts.get(h)
			switch _, tomb := e.tombs[h]; {
			case d.err != nil:
			case d.version == 1 || ok:
				if !ok || r.own {
					return nil, errors.New("bad recent list: an entry without state of an alert not held")
				}
				r.s = held
			case !tomb:
				d.loose = true // counted past the cap
			}
			if d.err == nil && (int(r.s.side) != side || listed[r.id] || r.seq > seq || i > 0 && last <= r.seq) {
				return nil, errors.New("bad recent list")
			}
			listed[r.id], last = true, r.seq
			e.recent = append(e.recent, r.recentAlert)
		}
	}
	// One list, newest first; entries of one seq (only in a snapshot WriteTo did not write) in
	// side order, as the sides were read.
	slices.SortStableFunc(e.recent, func(a, b recentAlert) int { return cmp.Compare(b.seq, a.seq) })
	if d.err != nil {
		return nil, d.err
	}
	return e, e.check()
}

// decodedRecent is a recent entry as read: own says it carried its own state.
type decodedRecent struct {
	recentAlert
	own bool
}

// recent reads one recent entry of entity key.
func (d *decoder) recent(key string) (decodedRecent, error) {
	r := decodedRecent{recentAlert: recentAlert{seq: d.uvarint(), id: d.string(MaxIDBytes)}}
	if d.err == nil && r.id == "" {
		return r, errors.New("recent alert without id")
	}
	switch k := d.uvarint(); {
	case k == 0:
	case k-1 > MaxEntityKeys:
		return r, errors.New("too many entity keys")
	default:
		keys := make([]string, 0, k-1)
		for j := uint64(0); j < k-1 && d.err == nil; j++ {
			keys = append(keys, d.string(MaxKeyBytes))
			if strings.Contains(keys[j], keySep) {
				return r, errors.New("an entity key holding a NUL byte")
			}
		}
		if d.err == nil && (len(keys) == 0 || len(keys) == 1 && keys[0] == key || !slices.IsSorted(keys) || len(slices.Compact(slices.Clone(keys))) != len(keys) || slices.Contains(keys, "")) {
			return r, errors.New("entity keys not as WriteTo writes them")
		}
		r.keys = intern(key, keys)
	}
	if d.version == 1 {
		return r, nil
	}
	switch d.byte() {
	case 0:
	case 1:
		s, err := d.state()
		r.s, r.own = s, true
		return r, err
	default:
		return r, errors.New("bad recent entry")
	}
	return r, nil
}

// state reads an alert's state.
func (d *decoder) state() (alertState, error) {
	s := alertState{version: d.varint(), first: d.varint(), last: d.varint(), touched: d.touched()}
	s.side, s.sev, s.status = d.byte(), d.byte(), d.byte()
	if d.err == nil && (!validState(s.version, s.side, s.sev, s.status) || s.first == noLast || s.last == noFirst) {
		return s, errors.New("bad alert state")
	}
	return s, nil
}

func (d *decoder) touched() uint32 {
	v := d.uvarint()
	if v > 1<<32-1 {
		d.fail(errors.New("time out of range"))
		return 0
	}
	return uint32(v)
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
			if h.total() > 0 {
				return errors.New("counters do not hold the alerts")
			}
			continue
		}
		s := e.sides[i]
		for j := range numSeverities {
			if s.openBySev[j] > s.bySev[j] || h.bySev[j] > s.bySev[j] || h.openBySev[j] > s.openBySev[j] {
				return errors.New("counters do not hold the alerts")
			}
		}
		if s.floorFirst == noLast || s.floorLast == noFirst {
			return errors.New("bad floor")
		}
		e.recompute(uint8(i))
	}
	return nil
}

func validState(version int64, side, sev, status uint8) bool {
	return version >= 1 && int(side) < numSides && int(sev) < numSeverities && status <= 3
}
