package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/adjoin/adjoin/pkg/authn"
)

// Roles of the console; the same names as the gRPC roles.
const (
	RoleRead  = "read"
	RoleAdmin = "admin"
)

// Checker gives the role of a caller presenting tokens over a connection in state, "" for
// none; ports.Auth.RoleOf is the one the gRPC side uses.
type Checker interface {
	Enabled() bool
	RoleOf(tokens []string, state *tls.ConnectionState) string
	// Who names the caller for the record of what it changed (ports.Auth.Who).
	Who(tokens []string, state *tls.ConnectionState) string
}

// sessionCookie holds a login session's id.
const sessionCookie = "adjoin_console"

// Bounds of the login sessions: a browser that logged in keeps its session this long, and
// the oldest session is forgotten when more are open.
const (
	sessionTTL  = 8 * time.Hour
	maxSessions = 1024
)

// session is a browser that logged in with a token. The token, not a role, is kept: the role
// is looked up on every request, so a token removed from the tokens file ends its sessions.
type session struct {
	token   string
	expires time.Time
}

// caller is who a request comes from.
type caller struct {
	role string
	// id names the caller for its CSRF token: its session, token or certificate.
	id string
	// session is the caller's login session id, "" when it came otherwise.
	session string
	// who names the caller in the record of a toggle it makes: "console:" and what a gRPC
	// caller with the same credentials is named, never the session id (a secret).
	who string
}

// guard checks callers and keeps the login sessions.
type guard struct {
	check Checker
	key   []byte // signs CSRF tokens; new at every start, so a restart asks pages to reload

	mu       sync.Mutex
	sessions map[string]session
}

func newGuard(check Checker) *guard {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	return &guard{check: check, key: key, sessions: map[string]session{}}
}

// enabled reports whether callers are checked at all; when not, everyone is admin, as on
// the gRPC side.
func (g *guard) enabled() bool { return g.check != nil && g.check.Enabled() }

// who returns the request's caller; role "" means unknown.
func (g *guard) who(r *http.Request) caller {
	if !g.enabled() {
		return caller{role: RoleAdmin, id: "open", who: "console:peer:" + r.RemoteAddr}
	}
	var tokens []string
	if scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		tokens = append(tokens, strings.TrimSpace(token))
	}
	sid := ""
	if c, err := r.Cookie(sessionCookie); err == nil {
		if s, ok := g.session(c.Value); ok {
			tokens, sid = append(tokens, s.token), c.Value
		}
	}
	role := g.check.RoleOf(tokens, r.TLS)
	who := "console:" + g.check.Who(tokens, r.TLS)
	switch {
	case role == "":
		return caller{}
	case sid != "":
		return caller{role: role, id: "session:" + sid, session: sid, who: who}
	case len(tokens) > 0:
		return caller{role: role, id: "token:" + authn.Digest(tokens[0]), who: who}
	case r.TLS != nil && len(r.TLS.VerifiedChains) > 0:
		return caller{role: role, id: "cert:" + r.TLS.VerifiedChains[0][0].Subject.CommonName, who: who}
	}
	return caller{role: role, id: "unknown", who: who}
}

// login opens a session for token when it has a role, and returns its id.
func (g *guard) login(token string) (string, bool) {
	if g.check.RoleOf([]string{token}, nil) == "" {
		return "", false
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	sid := base64.RawURLEncoding.EncodeToString(id)
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, s := range g.sessions {
		if now.After(s.expires) {
			delete(g.sessions, k)
		}
	}
	if len(g.sessions) >= maxSessions {
		oldest := ""
		for k, s := range g.sessions {
			if oldest == "" || s.expires.Before(g.sessions[oldest].expires) {
				oldest = k
			}
		}
		delete(g.sessions, oldest)
	}
	g.sessions[sid] = session{token: token, expires: now.Add(sessionTTL)}
	return sid, true
}

func (g *guard) logout(sid string) {
	g.mu.Lock()
	delete(g.sessions, sid)
	g.mu.Unlock()
}

func (g *guard) session(sid string) (session, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.sessions[sid]
	if !ok || time.Now().After(s.expires) {
		delete(g.sessions, sid)
		return session{}, false
	}
	return s, true
}

// csrf is the CSRF token of a caller: a signature of its id, which another site can neither
// read nor make.
func (g *guard) csrf(c caller) string {
	m := hmac.New(sha256.New, g.key)
	m.Write([]byte(c.id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfOK reports whether a posted CSRF token is the caller's.
func (g *guard) csrfOK(c caller, posted string) bool {
	return c.role != "" && hmac.Equal([]byte(posted), []byte(g.csrf(c)))
}
