package counts

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// FuzzLedgerReadFrom feeds ReadFrom arbitrary bytes: it never panics, and a ledger it accepts
// round-trips through WriteTo and ReadFrom.
func FuzzLedgerReadFrom(f *testing.F) {
	l := NewLedger()
	for i := range 12 {
		l.Fold(counted(fmt.Sprint("u", i%3), alert(fmt.Sprint("a", i), identity, int64(1+i%2), high, resolved), "u1"))
	}
	l.Compact(time.Now())
	var buf bytes.Buffer
	if _, err := l.WriteTo(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(snapshotMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		l := NewLedger()
		if _, err := l.ReadFrom(bytes.NewReader(data)); err != nil {
			return
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
	})
}
