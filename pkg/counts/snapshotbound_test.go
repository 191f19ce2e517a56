package counts

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

// TestLedgerSnapshotBound writes and reads a snapshot at its size bound (accepted) and one byte
// under it (WriteTo fails, ReadFrom refuses with ErrSnapshot, the ledger unchanged).
func TestLedgerSnapshotBound(t *testing.T) {
	t.Parallel()
	l := NewLedger()
	for i := range 100 {
		l.Fold(counted(fmt.Sprint("u", i%7), alert(fmt.Sprint("a", i), identity, 1, high, newS), "u0"))
	}
	var buf bytes.Buffer
	if _, err := l.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	size := int64(buf.Len())
	if _, err := l.writeTo(&bytes.Buffer{}, size); err != nil {
		t.Errorf("a snapshot at the bound: %v", err)
	}
	if _, err := l.writeTo(&bytes.Buffer{}, size-1); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("a snapshot past the bound: err %v", err)
	}
	back := NewLedger()
	if _, err := back.readFrom(bytes.NewReader(buf.Bytes()), size); err != nil {
		t.Errorf("a snapshot at the bound refused: %v", err)
	}
	keep := NewLedger()
	keep.Fold(counted("kept", alert("k", identity, 1, high, newS), "kept"))
	_, err := keep.readFrom(bytes.NewReader(buf.Bytes()), size-1)
	if !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("a snapshot past the bound: err %v", err)
	}
	if n, _ := keep.Len(); n != 1 || keep.Record("kept") == nil {
		t.Error("a refused snapshot changed the ledger")
	}
}

// TestLedgerReadFromStream reads a snapshot one byte at a time, and from a reader that fails
// midway: the first reads back, the second fails with the reader's error, not ErrSnapshot.
func TestLedgerReadFromStream(t *testing.T) {
	t.Parallel()
	l := NewLedger()
	for i := range 3000 {
		l.Fold(counted(fmt.Sprint("u", i%50), alert(fmt.Sprint("a", i), identity, 1, high, newS), "u0", "u1"))
	}
	var buf bytes.Buffer
	if _, err := l.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	snap := buf.Bytes()
	back := NewLedger()
	n, err := back.ReadFrom(iotest.OneByteReader(bytes.NewReader(snap)))
	if err != nil || n != int64(len(snap)) {
		t.Fatalf("read %d of %d bytes: %v", n, len(snap), err)
	}
	var again bytes.Buffer
	if _, err := back.WriteTo(&again); err != nil || !bytes.Equal(again.Bytes(), snap) {
		t.Fatalf("read one byte at a time, the snapshot does not write back the same (%v)", err)
	}
	broken := errors.New("connection lost")
	_, err = NewLedger().ReadFrom(&failAfter{r: bytes.NewReader(snap), n: len(snap) / 2, err: broken})
	if !errors.Is(err, broken) || errors.Is(err, ErrSnapshot) {
		t.Errorf("a reader failing midway: err %v", err)
	}
}

// failAfter reads n bytes of r, then fails with err.
type failAfter struct {
	r   *bytes.Reader
	n   int
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}
