package counts

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"
)

// TestLedgerReadsCodec1 reads a snapshot of codec 1 (written by the build before tombstones had
// a last change and recent entries a state): one entity, one open alert held in full and on the
// recent list, one resolved tombstone. It reads back exactly, and the tombstone, whose last
// change codec 1 did not keep, is forgotten a retention after the first compaction, not at it.
func TestLedgerReadsCodec1(t *testing.T) {
	t.Parallel()
	open, gone := idOf("open"), idOf("gone")
	b := []byte(snapshotMagic)
	b = binary.AppendUvarint(b, 1) // codec 1
	b = binary.AppendUvarint(b, 1) // seq
	b = binary.AppendUvarint(b, 1) // entities
	b = appendString(b, "u")
	for side := range numSides {
		var bySev, openBySev [numSeverities]uint64
		if side == int(identity) {
			bySev[high], openBySev[high] = 2, 1
		}
		b = binary.AppendUvarint(b, bySev[high])
		b = binary.AppendUvarint(b, openBySev[high])
		for j := range numSeverities {
			b = binary.AppendUvarint(b, bySev[j])
			b = binary.AppendUvarint(b, openBySev[j])
		}
		b = binary.AppendVarint(b, noFirst)
		b = binary.AppendVarint(b, noLast)
	}
	b = binary.AppendUvarint(b, 1) // alerts in full
	b = append(b, open[:]...)
	b = appendState(b, alertState{version: 1, first: noFirst, last: noLast, touched: 5, side: uint8(identity), sev: uint8(high), status: uint8(newS)})
	b = binary.AppendUvarint(b, 1) // tombstones, without their last change
	b = append(b, gone[:]...)
	b = binary.AppendVarint(b, 3)
	b = append(b, uint8(identity), uint8(high), uint8(resolved))
	for side := range numSides {
		if side != int(identity) {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, 1)
		b = binary.AppendUvarint(b, 1) // seq
		b = appendString(b, "open")
		b = append(b, 0) // the entity's key alone; no state in codec 1
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))

	l := NewLedger()
	if _, err := l.ReadFrom(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	rec := l.Record("u")
	if s := Summarise(rec, identity); s.GetTotal() != 2 || s.GetOpen() != 1 || len(rec.GetRecent()) != 1 || rec.GetRecent()[0].GetAlertId() != "open" {
		t.Fatalf("codec 1 read as %v", rec)
	}
	roundTrip(t, l)
	now := epoch
	if c := compactAt(l, now); c.Forgotten != 0 {
		t.Errorf("first compaction %+v: a codec-1 tombstone forgotten at once", c)
	}
	if c := compactAt(l, now.Add(retention-time.Hour)); c.Forgotten != 0 {
		t.Errorf("compaction %+v: forgotten before a retention", c)
	}
	if c := compactAt(l, now.Add(retention+time.Hour)); c.Forgotten != 1 {
		t.Errorf("compaction %+v: not forgotten a retention later", c)
	}
	if s := Summarise(l.Record("u"), identity); s.GetTotal() != 2 || s.GetOpen() != 1 {
		t.Errorf("after compaction %v", s)
	}
}
