package logx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConsoleHasNoColoursInAFile: console logs written to a file (not a terminal) carry no ANSI
// escape codes; they used to colour the level whatever the output.
func TestConsoleHasNoColoursInAFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log, err := newTo("info", "console", f)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello")
	log.Warn("careful")
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "\x1b[") || !strings.Contains(string(b), "INFO") || !strings.Contains(string(b), "WARN") {
		t.Errorf("console log in a file = %q, want plain INFO and WARN levels", b)
	}
	if isTerminal(f) {
		t.Error("a regular file was taken for a terminal")
	}
}
