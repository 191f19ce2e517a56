package authn

import (
	"context"
	"net/http"
	"strings"

	"github.com/adjoin/adjoin/pkg/httpx"
)

// Reasons a request is refused, in metrics.
const (
	ReasonMissing = "missing-token" // no "Authorization: Bearer" header
	ReasonInvalid = "invalid-token" // a token the file does not list (any more)
)

// Guard lets through the HTTP requests of known senders. With Tokens, a request needs
// "Authorization: Bearer <token>" and its sender is the token's name; otherwise, with
// ClientCerts, the sender is the common name of the client certificate the TLS handshake
// verified. A refused request is answered 401 with a JSON error before its body is read.
// The sender's name reaches the handler in the context (Sender) and in r.RemoteAddr as
// "<sender>@<ip:port>", so every origin an ingestor records names it.
type Guard struct {
	Tokens      *TokenFile
	ClientCerts bool
	// Open paths answer without credentials: probes and Prometheus scrapes carry none.
	Open []string
	// Refused, when set, is called with the reason of each refused request (a metric).
	Refused func(reason string)
}

// Enabled reports whether the guard checks anything.
func (g *Guard) Enabled() bool { return g != nil && (g.Tokens != nil || g.ClientCerts) }

type senderKey struct{}

// Sender is the name a Guard (or WithSender) gave the request's sender; "" when nothing was
// checked.
func Sender(ctx context.Context) string {
	s, _ := ctx.Value(senderKey{}).(string)
	return s
}

// WithSender returns ctx naming the sender of the request it carries, for what a service
// records of it: the badge service's interceptor and console name who toggles the integration.
func WithSender(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, senderKey{}, name)
}

// Wrap returns next behind the guard; with nothing to check it returns next.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	if !g.Enabled() {
		return next
	}
	open := map[string]bool{}
	for _, p := range g.Open {
		open[p] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if open[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		sender, reason := g.sender(r)
		if reason != "" {
			if g.Refused != nil {
				g.Refused(reason)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="adjoin"`)
			w.Header().Set("Connection", "close") // the body is not read
			httpx.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": refusal(reason)})
			return
		}
		r = r.WithContext(WithSender(r.Context(), sender))
		r.RemoteAddr = sender + "@" + r.RemoteAddr
		next.ServeHTTP(w, r)
	})
}

func (g *Guard) sender(r *http.Request) (name, reason string) {
	if g.Tokens != nil {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return "", ReasonMissing
		}
		name, ok := g.Tokens.Lookup(strings.TrimSpace(token))
		if !ok {
			return "", ReasonInvalid
		}
		return name, ""
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		return r.TLS.VerifiedChains[0][0].Subject.CommonName, ""
	}
	return "", ReasonMissing
}

func refusal(reason string) string {
	if reason == ReasonInvalid {
		return "unauthorized: the bearer token is not (or no longer) valid for this intake"
	}
	return `unauthorized: send "Authorization: Bearer <token>" with a sender token of this intake (or a client certificate)`
}
