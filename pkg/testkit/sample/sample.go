// Package sample gives tests the third-party recordings in shared/data (beside the checkout,
// where CI lays a copy too): their location, and their lines parsed into events.
package sample

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
)

// Dir returns the shared/data directory, walking up from the working directory. The test is
// skipped when no checkout layout with shared/data is found.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		candidate := filepath.Join(dir, "shared", "data")
		if st, err := os.Stat(candidate); err == nil && st.IsDir() {
			return candidate
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("shared/data not found above the working directory")
		}
		dir = parent
	}
}

// Read returns the bytes of a file under shared/data.
func Read(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Events parses every line of a file under shared/data as a Windows event, failing the test
// on a line that does not parse.
func Events(t testing.TB, rel string) []*adjoinv1.Event {
	t.Helper()
	var out []*adjoinv1.Event
	sc := bufio.NewScanner(bytes.NewReader(Read(t, rel)))
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		ev, err := intake.ParseWindows(sc.Bytes(), "")
		if err != nil {
			t.Fatalf("%s line %d: %v", rel, line, err)
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
