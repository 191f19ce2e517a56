package tail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
)

type memStore struct {
	mu sync.Mutex
	m  map[string]Offset
}

func (s *memStore) Load(_ context.Context, key string) (Offset, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.m[key]
	return o, ok, nil
}

func (s *memStore) Save(_ context.Context, key string, o Offset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = o
	return nil
}

type collector struct {
	lines   []string
	headers []string
	fail    bool
}

func (c *collector) handle(_ context.Context, src Source, lines [][]byte, _ int) error {
	if c.fail {
		return fmt.Errorf("not stored")
	}
	for _, h := range src.Header {
		c.headers = append(c.headers, string(h))
	}
	for _, l := range lines {
		c.lines = append(c.lines, string(l))
	}
	return nil
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestTailerFollowsGrowthRestartsAndRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "kerberos.log")
	store := &memStore{m: map[string]Offset{}}
	c := &collector{}
	newTailer := func() *Tailer {
		return &Tailer{Patterns: []string{filepath.Join(dir, "kerberos.log*")}, Store: store, Handle: c.handle, Batch: 2, Log: zap.NewNop()}
	}
	ctx := context.Background()

	appendFile(t, log, "#fields\tts\tuid\n1\ta\n2\tb\n3\tc-partial")
	if err := newTailer().Once(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.lines, ","); got != "1\ta,2\tb" {
		t.Fatalf("first pass = %q, want the complete lines only", got)
	}
	if len(c.headers) == 0 || c.headers[0] != "#fields\tts\tuid" {
		t.Errorf("header = %q", c.headers)
	}
	// The half-written line completes; a new tailer (a restarted process) neither repeats nor loses.
	appendFile(t, log, "\n4\td\n")
	if err := newTailer().Once(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.lines, ","); got != "1\ta,2\tb,3\tc-partial,4\td" {
		t.Fatalf("after restart = %q", got)
	}
	// A failed handler leaves the offset: the lines come again.
	appendFile(t, log, "5\te\n")
	c.fail = true
	if err := newTailer().Once(ctx); err == nil {
		t.Fatal("want the handler's error")
	}
	c.fail = false
	// Rotation: the file is renamed and gets one more line before the new file starts.
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, log+".1", "6\tf\n")
	appendFile(t, log, "#fields\tts\tuid\n7\tg\n")
	if err := newTailer().Once(ctx); err != nil {
		t.Fatal(err)
	}
	// Files are read one after the other in no promised order; within a file, in order.
	got := append([]string(nil), c.lines...)
	sort.Strings(got)
	if strings.Join(got, ",") != "1\ta,2\tb,3\tc-partial,4\td,5\te,6\tf,7\tg" {
		t.Fatalf("after rotation = %q", c.lines)
	}
	// Truncation in place starts over.
	if err := os.WriteFile(log, []byte("8\th\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := newTailer().Once(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.lines[len(c.lines)-1]; got != "8\th" {
		t.Errorf("after truncation last line = %q", got)
	}
}
