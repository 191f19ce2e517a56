package console

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/adjoin/adjoin/pkg/authn"
	"github.com/adjoin/adjoin/services/badge/internal/ports"
)

// TestSessionsBounded logs in maxSessions+10 times with a real tokens file: the guard never
// holds more than maxSessions sessions, the oldest ones go first, the newest still work, and a
// token that gives no role opens none.
func TestSessionsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("read s3cret-read-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := authn.OpenTokenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := newGuard(&ports.Auth{Tokens: tokens})
	if _, ok := g.login("not-a-token"); ok {
		t.Fatal("a token that gives no role opened a session")
	}
	var ids []string
	for range maxSessions + 10 {
		id, ok := g.login("s3cret-read-token")
		if !ok {
			t.Fatal("login with the read token refused")
		}
		ids = append(ids, id)
	}
	g.mu.Lock()
	n := len(g.sessions)
	g.mu.Unlock()
	if n != maxSessions {
		t.Errorf("%d sessions held after %d logins, want the bound %d", n, len(ids), maxSessions)
	}
	if _, ok := g.session(ids[0]); ok {
		t.Error("the oldest session is still held past the bound")
	}
	if _, ok := g.session(ids[len(ids)-1]); !ok {
		t.Error("the newest session is not held")
	}
}
