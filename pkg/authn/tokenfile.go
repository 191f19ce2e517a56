package authn

import (
	"bytes"
	"context"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/logx"
)

// TokenFile is a tokens file kept current while the service runs: Watch re-reads it when its
// content changes and on SIGHUP, so adding a sender or cutting one off (removing its line)
// needs no restart. A file that no longer parses keeps the tokens read before, with an error
// logged: a half-written edit must not lock every sender out.
type TokenFile struct {
	Path  string
	Check NameCheck

	cur  atomic.Pointer[Tokens]
	mu   sync.Mutex // serialises reloads
	last []byte
}

// OpenTokenFile reads path once; the error names the setting and the line.
func OpenTokenFile(path string, check NameCheck) (*TokenFile, error) {
	f := &TokenFile{Path: path, Check: check}
	if _, err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Lookup returns the name of token in the current set.
func (f *TokenFile) Lookup(token string) (string, bool) {
	if f == nil {
		return "", false
	}
	return f.cur.Load().Lookup(token)
}

// Current is the set in force.
func (f *TokenFile) Current() *Tokens { return f.cur.Load() }

// Reload reads the file again; changed is false when its content is the same as last time.
// On error the set in force stays.
func (f *TokenFile) Reload() (changed bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return false, err
	}
	if f.cur.Load() != nil && bytes.Equal(b, f.last) {
		return false, nil
	}
	t, err := ParseTokens(bytes.NewReader(b), f.Path, f.Check)
	if err != nil {
		return false, err
	}
	f.cur.Store(t)
	f.last = b
	return true, nil
}

// Watch reloads the file every poll and on SIGHUP until ctx ends, logging each change with the
// names now allowed.
func (f *TokenFile) Watch(ctx context.Context, poll time.Duration, log *zap.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-hup:
			log.Info("SIGHUP: reading the tokens file again", zap.String("file", f.Path))
		}
		changed, err := f.Reload()
		switch {
		case err != nil:
			log.Error("tokens file not reloaded; the tokens read before stay in force", zap.String("file", f.Path), logx.Err(err))
		case changed:
			log.Info("tokens file reloaded", zap.String("file", f.Path), zap.Strings("names", f.Current().Names()),
				zap.Int("tokens", f.Current().Len()))
		}
	}
}
