package counts

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"iter"
	"maps"
	"slices"
	"unique"
)

// A snapshot is the header (snapshotMagic, then the codec version as a uvarint), the fold
// sequence, the entities in key order, and a CRC-32C of everything before it. Per entity: its key,
// per side the counters and the floor (first and last activity are recomputed on reading), the
// alerts held in full and the tombstones in hash order, then per side the recent list (an entry's
// entity keys as their count plus one and the keys, or 0 for the entity's key alone; then 0 when
// the alert is held in full, whose state it shows, or 1 and its state).
//
// Codec version 2 added the tombstones' last change and the recent entries' state; version 1
// snapshots are read too (their tombstones' second retention starts at the next Compact).
const (
	snapshotMagic   = "ADJLEDGR"
	snapshotVersion = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteTo encodes the whole ledger (a snapshot). The encoding is deterministic for a given state.
// It fails once it would write more than MaxSnapshotBytes (ReadFrom would refuse it).
func (l *Ledger) WriteTo(w io.Writer) (int64, error) { return l.writeTo(w, MaxSnapshotBytes) }

// writeTo is WriteTo with the bound on the snapshot's size.
func (l *Ledger) writeTo(w io.Writer, limit int64) (int64, error) {
	cw := &countWriter{w: w, crc: crc32.New(castagnoli), max: limit}
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
		buf = binary.AppendUvarint(buf, uint64(s.total()))
		buf = binary.AppendUvarint(buf, uint64(s.open()))
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
		buf = appendState(buf, s)
	}
	buf = binary.AppendUvarint(buf, uint64(len(e.tombs)))
	for _, h := range sortedIDs(maps.All(e.tombs)) {
		t := e.tombs[h]
		buf = append(buf, h[:]...)
		buf = binary.AppendVarint(buf, t.version)
		buf = binary.AppendUvarint(buf, uint64(t.touched))
		buf = append(buf, t.side, t.sev, t.status)
	}
	for side := range numSides {
		buf = binary.AppendUvarint(buf, uint64(e.onSide(uint8(side))))
		for i := range e.recent {
			r := &e.recent[i]
			if int(r.s.side) != side {
				continue
			}
			buf = binary.AppendUvarint(buf, r.seq)
			buf = appendString(buf, r.id)
			if r.keys == (unique.Handle[string]{}) {
				buf = append(buf, 0) // counted on this entity alone
			} else {
				keys := r.keyStrings(key)
				buf = binary.AppendUvarint(buf, uint64(len(keys))+1)
				for _, k := range keys {
					buf = appendString(buf, k)
				}
			}
			if _, held := e.alerts.get(idOf(r.id)); held {
				buf = append(buf, 0)
				continue
			}
			buf = append(buf, 1)
			buf = appendState(buf, r.s)
		}
	}
	return buf
}

func appendState(buf []byte, s alertState) []byte {
	buf = binary.AppendVarint(buf, s.version)
	buf = binary.AppendVarint(buf, s.first)
	buf = binary.AppendVarint(buf, s.last)
	buf = binary.AppendUvarint(buf, uint64(s.touched))
	return append(buf, s.side, s.sev, s.status)
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
	max int64
	crc hash.Hash32
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.n+int64(len(p)) > c.max {
		return 0, fmt.Errorf("counts: ledger snapshot longer than %d bytes: over the bound ReadFrom accepts", c.max)
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
