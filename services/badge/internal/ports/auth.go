package ports

import (
	"context"
	"crypto/tls"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/adjoin/adjoin/pkg/authn"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Roles of the badge service: read serves every query; admin may also toggle the integration.
const (
	RoleRead  = "read"
	RoleAdmin = "admin"
)

// adminMethods need RoleAdmin.
var adminMethods = map[string]bool{"/adjoin.v1.BadgeService/SetIntegration": true}

// Auth checks callers when tokens or client certificates are configured: a bearer token
// ("authorization: Bearer <token>") maps to its role; a verified client certificate gives
// RoleRead, or RoleAdmin when its common name is listed. Health checks and reflection stay
// open, so probes and grpcurl's discovery work without credentials.
type Auth struct {
	Tokens   *authn.TokenFile // token -> role, kept current by its Watch
	AdminCNs map[string]bool
	// ClientCerts is true when the server verifies client certificates (mTLS).
	ClientCerts bool
}

// Enabled reports whether any check is configured.
func (a *Auth) Enabled() bool { return a != nil && (a.Tokens != nil || a.ClientCerts) }

func open(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.") || strings.HasPrefix(method, "/grpc.reflection.")
}

func (a *Auth) check(ctx context.Context, method string) error {
	if !a.Enabled() || open(method) {
		return nil
	}
	role := a.role(ctx)
	switch {
	case role == "":
		return status.Error(codes.Unauthenticated, "a bearer token or a client certificate is required")
	case adminMethods[method] && role != RoleAdmin:
		return status.Errorf(codes.PermissionDenied, "%s needs the admin role", method)
	}
	return nil
}

func (a *Auth) role(ctx context.Context) string {
	return a.RoleOf(credentialsOf(ctx))
}

// credentialsOf returns the bearer tokens and the TLS state of a gRPC call.
func credentialsOf(ctx context.Context) ([]string, *tls.ConnectionState) {
	var tokens []string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for _, v := range md.Get("authorization") {
			if token, ok := strings.CutPrefix(v, "Bearer "); ok {
				tokens = append(tokens, token)
			}
		}
	}
	var state *tls.ConnectionState
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			state = &info.State
		}
	}
	return tokens, state
}

// Who names a caller presenting tokens over a connection in state, for the record of what it
// changed: "token:<name>:<digest>" for the first listed token (its name is its role in the
// tokens file, the digest tells tokens apart without giving them away), else "cert:<common
// name>" for a verified client certificate, else "".
func (a *Auth) Who(tokens []string, state *tls.ConnectionState) string {
	if a != nil && a.Tokens != nil {
		for _, token := range tokens {
			if name, ok := a.Tokens.Lookup(token); ok {
				return "token:" + name + ":" + authn.Digest(token)
			}
		}
	}
	if state != nil && len(state.VerifiedChains) > 0 && len(state.VerifiedChains[0]) > 0 {
		return "cert:" + state.VerifiedChains[0][0].Subject.CommonName
	}
	return ""
}

// sender names the caller of an admin method (authn.WithSender) for the record of its change:
// as Who does, or "peer:<address>" when nothing was checked.
func (a *Auth) sender(ctx context.Context) context.Context {
	who := ""
	if a.Enabled() {
		who = a.Who(credentialsOf(ctx))
	}
	if p, ok := peer.FromContext(ctx); ok && who == "" && p.Addr != nil {
		who = "peer:" + p.Addr.String()
	}
	return authn.WithSender(ctx, who)
}

// RoleOf is the role of a caller who presents tokens (bearer tokens, possibly none) over a
// connection in state (nil: no TLS): the first listed token's role, else RoleRead or RoleAdmin
// for a verified client certificate, else "". The web console checks its callers with it too,
// so both doors of the service admit the same people with the same rights.
func (a *Auth) RoleOf(tokens []string, state *tls.ConnectionState) string {
	if a.Tokens != nil {
		for _, token := range tokens {
			if role, ok := a.Tokens.Lookup(token); ok {
				return role
			}
		}
	}
	if state != nil && len(state.VerifiedChains) > 0 && len(state.VerifiedChains[0]) > 0 {
		if a.AdminCNs[state.VerifiedChains[0][0].Subject.CommonName] {
			return RoleAdmin
		}
		return RoleRead
	}
	return ""
}

// fromMemory are the unary methods answered from the service's memory (the view, the index,
// the built answers): nothing in them waits, so a default deadline would never fire, while its
// timer would cost every call of the busiest methods.
var fromMemory = map[string]bool{
	adjoinv1.BadgeService_GetBadge_FullMethodName:            true,
	adjoinv1.BadgeService_BatchGetBadges_FullMethodName:      true,
	adjoinv1.BadgeService_ListEntityIncidents_FullMethodName: true,
}

// Interceptors returns the server options that check callers and give unary calls without a
// deadline a default one.
func (a *Auth) Interceptors(defaultDeadline time.Duration) []grpc.ServerOption {
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if err := a.check(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return h(srv, ss)
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(a.unary(defaultDeadline)), grpc.ChainStreamInterceptor(stream)}
}

// unary checks callers and gives calls that may wait (not fromMemory) without a deadline
// defaultDeadline (0: none).
func (a *Auth) unary(defaultDeadline time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if err := a.check(ctx, info.FullMethod); err != nil {
			return nil, err
		}
		if adminMethods[info.FullMethod] {
			ctx = a.sender(ctx)
		}
		if _, ok := ctx.Deadline(); !ok && defaultDeadline > 0 && !fromMemory[info.FullMethod] {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, defaultDeadline)
			defer cancel()
		}
		return h(ctx, req)
	}
}
