// Package tail follows log files (Zeek logs, NDJSON event logs) and hands their new lines to a
// handler, remembering how far each file was read in a store that survives restarts. A file's
// progress is keyed by its device and inode, not its name, so a rotated file (renamed, e.g.
// kerberos.log → kerberos.log.1) is finished from where it was left as long as the pattern
// still matches it, and the new file is read from its start. The offset moves only after the
// handler returned, which for adjoin means after JetStream stored the lines: a crash repeats at
// most the lines of one batch, which the stream deduplicates by their content hash.
package tail

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Offset is a file's progress.
type Offset struct {
	Path           string `json:"path"`
	Offset         int64  `json:"offset"`
	Fingerprint    string `json:"fingerprint"` // hash of the file's first FingerprintLen bytes: detects inode reuse
	FingerprintLen int    `json:"fingerprint_len"`
}

// Store keeps offsets by key.
type Store interface {
	Load(ctx context.Context, key string) (Offset, bool, error)
	Save(ctx context.Context, key string, o Offset) error
}

// Source describes the file lines come from. Header holds the file's leading comment lines
// ("#..."), which Zeek's TSV format needs to read any later line.
type Source struct {
	Path   string
	Header [][]byte
}

// Handler stores lines durably; an error leaves the offset where it was and the lines are
// offered again on the next poll.
type Handler func(ctx context.Context, src Source, lines [][]byte, firstLine int) error

// Tailer follows every file matching Patterns.
type Tailer struct {
	Patterns []string
	Store    Store
	Handle   Handler
	// Poll is how often files are checked for growth (default 1s).
	Poll time.Duration
	// Batch is the most lines handed over at once (default 1000).
	Batch int
	// MaxLine bounds a line; a longer one is skipped with a warning (default 1 MiB).
	MaxLine int
	Log     *zap.Logger
}

// fingerprintBytes is how much of a file's start identifies it.
const fingerprintBytes = 256

// Run follows the files until ctx ends.
func (t *Tailer) Run(ctx context.Context) error {
	poll := t.Poll
	if poll <= 0 {
		poll = time.Second
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		if err := t.Once(ctx); err != nil && ctx.Err() == nil {
			t.Log.Warn("tailing failed; retrying", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Once reads every matching file up to its current end.
func (t *Tailer) Once(ctx context.Context) error {
	var paths []string
	for _, p := range t.Patterns {
		m, err := filepath.Glob(p)
		if err != nil {
			return fmt.Errorf("pattern %q: %w", p, err)
		}
		paths = append(paths, m...)
	}
	sort.Strings(paths)
	var firstErr error
	for _, p := range paths {
		if err := t.file(ctx, p); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: %w", p, err)
		}
	}
	return firstErr
}

func (t *Tailer) file(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // rotated away between glob and open
		}
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return err
	}
	key := fileKey(st)
	head := make([]byte, fingerprintBytes)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	off, ok, err := t.Store.Load(ctx, key)
	if err != nil {
		return err
	}
	// A start different from the one recorded means the inode was reused by another file; a
	// file smaller than the offset was truncated in place: both are read from the beginning.
	reused := ok && off.FingerprintLen <= len(head) && fingerprint(head[:off.FingerprintLen]) != off.Fingerprint
	if !ok || reused || st.Size() < off.Offset {
		off = Offset{}
	}
	off.Path, off.Fingerprint, off.FingerprintLen = path, fingerprint(head), len(head)
	if st.Size() == off.Offset {
		return nil
	}
	header, err := readHeader(f)
	if err != nil {
		return err
	}
	if _, err := f.Seek(off.Offset, io.SeekStart); err != nil {
		return err
	}
	return t.read(ctx, f, key, off, Source{Path: path, Header: header})
}

func (t *Tailer) read(ctx context.Context, f *os.File, key string, off Offset, src Source) error {
	batch, maxLine := t.Batch, t.MaxLine
	if batch <= 0 {
		batch = 1000
	}
	if maxLine <= 0 {
		maxLine = 1 << 20
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var lines [][]byte
	pos, consumed := off.Offset, off.Offset
	lineNo := 0 // line numbers are counted from the offset, as the start of the file is not re-read
	first := lineNo + 1
	flush := func() error {
		if len(lines) == 0 {
			if consumed != off.Offset {
				off.Offset = consumed
				return t.Store.Save(ctx, key, off)
			}
			return nil
		}
		if err := t.Handle(ctx, src, lines, first); err != nil {
			return err
		}
		off.Offset = consumed
		lines, first = nil, lineNo+1
		return t.Store.Save(ctx, key, off)
	}
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			lineNo++
			pos += int64(len(line))
			consumed = pos
			text := bytes.TrimRight(line, "\r\n")
			switch {
			case len(text) > maxLine:
				t.Log.Warn("skipping overlong line", zap.String("path", src.Path), zap.Int("bytes", len(text)))
			case len(bytes.TrimSpace(text)) > 0 && text[0] != '#':
				lines = append(lines, text)
			}
			if len(lines) >= batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err != nil {
			// A last line without its newline is left for the next poll: it may be half written.
			if errors.Is(err, io.EOF) {
				return flush()
			}
			return err
		}
		if ctx.Err() != nil {
			return flush()
		}
	}
}

// readHeader returns the leading "#" lines of a file.
func readHeader(f *os.File) ([][]byte, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	r := bufio.NewReader(io.LimitReader(f, 64<<10))
	var header [][]byte
	for {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 || line[0] != '#' {
			return header, nil
		}
		header = append(header, bytes.TrimRight(line, "\r\n"))
		if err != nil {
			return header, nil
		}
	}
}

func fileKey(st os.FileInfo) string {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d_%d", s.Dev, s.Ino)
	}
	return "name_" + fingerprint([]byte(st.Name()))
}

func fingerprint(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}
