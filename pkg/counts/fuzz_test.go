package counts

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"
	"time"
)

// FuzzLedgerReadFrom feeds ReadFrom arbitrary bytes, as they are and with a right checksum
// appended (so that the fuzzer reaches past the checksum): it never panics, and a ledger it accepts
// round-trips through WriteTo and ReadFrom.
func FuzzLedgerReadFrom(f *testing.F) {
	l := NewLedger()
	for i := range 12 {
		l.Fold(counted(fmt.Sprint("u", i%3), alert(fmt.Sprint("a", i), identity, int64(1+i%2), high, resolved), "u1"))
		l.Fold(counted("u2", alert(fmt.Sprint("b", i), endpoint, 1, medium, newS), "u2"))
	}
	l.Compact(time.Now(), time.Time{})
	var buf bytes.Buffer
	if _, err := l.WriteTo(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()-4])
	f.Add([]byte(snapshotMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		sum := binary.LittleEndian.AppendUint32(bytes.Clone(data), crc32.Checksum(data, castagnoli))
		for _, in := range [][]byte{data, sum} {
			l := NewLedger()
			if _, err := l.ReadFrom(bytes.NewReader(in)); err != nil {
				continue
			}
			var once, twice bytes.Buffer
			if _, err := l.WriteTo(&once); err != nil {
				t.Fatal(err)
			}
			back := NewLedger()
			if _, err := back.ReadFrom(bytes.NewReader(once.Bytes())); err != nil {
				t.Fatalf("an accepted snapshot, written back, is refused: %v", err)
			}
			if _, err := back.WriteTo(&twice); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(once.Bytes(), twice.Bytes()) {
				t.Fatal("an accepted snapshot does not round-trip")
			}
		}
	})
}
