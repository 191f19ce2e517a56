package ports

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// StreamLimiter bounds the streams (WatchBadges, StreamCorrelated, reflection) open at once,
// per client and in all. Each stream holds server resources for as long as its client keeps it
// open (a NATS consumer, a subscription to the view, a goroutine), so without a bound one client
// opening streams in a loop would use them up for everybody. A client is its authenticated
// identity when callers are checked (so a sender behind a shared proxy is not mixed up with
// others), else its address without the port (so new connections do not reset the count).
// Health checks are not counted: probes must get through whatever clients do.
type StreamLimiter struct {
	PerClient, Total int
	Auth             *Auth

	mu       sync.Mutex
	total    int
	byClient map[string]int
}

// NewStreamLimiter returns a limiter; perClient and total must be > 0.
func NewStreamLimiter(perClient, total int, auth *Auth) *StreamLimiter {
	return &StreamLimiter{PerClient: perClient, Total: total, Auth: auth, byClient: map[string]int{}}
}

// Interceptor counts each stream from its start to its end and refuses, with
// RESOURCE_EXHAUSTED naming the limit, one past a limit. It goes after the caller checks, so
// that unauthenticated calls take no place.
func (l *StreamLimiter) Interceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if strings.HasPrefix(info.FullMethod, "/grpc.health.v1.") {
			return h(srv, ss)
		}
		release, err := l.acquire(l.Auth.caller(ss.Context()))
		if err != nil {
			return err
		}
		defer release()
		return h(srv, ss)
	}
}

func (l *StreamLimiter) acquire(client string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.byClient[client] >= l.PerClient:
		return nil, status.Errorf(codes.ResourceExhausted,
			"this client has %d streams open, the most allowed (max-streams-per-client); close one first", l.PerClient)
	case l.total >= l.Total:
		return nil, status.Errorf(codes.ResourceExhausted,
			"the server has %d streams open, the most allowed (max-streams); try again later", l.Total)
	}
	l.byClient[client]++
	l.total++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.total--
		if l.byClient[client]--; l.byClient[client] <= 0 {
			delete(l.byClient, client)
		}
	}, nil
}

// caller names the client of an accepted call, for limits: its bearer token (hashed, never
// kept) or its certificate's common name when callers are checked, else its address.
func (a *Auth) caller(ctx context.Context) string {
	if a.Enabled() {
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			for _, v := range md.Get("authorization") {
				// Only a token the checks accept names the caller: a caller let in by its
				// certificate cannot make up tokens to get limits of its own.
				token, ok := strings.CutPrefix(v, "Bearer ")
				if _, known := a.Tokens.Lookup(token); ok && known {
					sum := sha256.Sum256([]byte(token))
					return "token " + hex.EncodeToString(sum[:8])
				}
			}
		}
	}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return ""
	}
	if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && a.Enabled() && len(info.State.VerifiedChains) > 0 {
		return "cert " + info.State.VerifiedChains[0][0].Subject.CommonName
	}
	if p.Addr == nil {
		return ""
	}
	addr := p.Addr.String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return "addr " + host
	}
	return "addr " + addr
}
