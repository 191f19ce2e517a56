package badge_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge"
)

// ca is a test certificate authority (ECDSA P-256, valid for an hour).
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ca{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate and key in PEM: a server one for 127.0.0.1, or a client one
// named cn. notAfter zero means an hour from now.
func (c *ca) issue(t *testing.T, cn string, server bool, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if notAfter.IsZero() {
		notAfter = time.Now().Add(time.Hour)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// clientTLS trusts root and presents the client certificate named cn (none when cn is empty).
func clientTLS(t *testing.T, root, issuer *ca, cn string, notAfter time.Time) grpc.DialOption {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(root.pem)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cn != "" {
		certPEM, keyPEM := issuer.issue(t, cn, false, notAfter)
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg))
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serverPKI writes a CA and a server certificate for 127.0.0.1 into a temporary directory.
func serverPKI(t *testing.T) (root *ca, certFile, keyFile, caFile string) {
	t.Helper()
	dir := t.TempDir()
	root = newCA(t, "adjoin test CA")
	certPEM, keyPEM := root.issue(t, "adjoin-badge", true, time.Time{})
	return root, writeFile(t, dir, "server.pem", certPEM), writeFile(t, dir, "server-key.pem", keyPEM), writeFile(t, dir, "ca.pem", root.pem)
}

// calls are what a caller tries; each returns the status code it got.
type calls struct {
	get, set, watch codes.Code
}

func tryCalls(t *testing.T, ctx context.Context, conn *grpc.ClientConn) calls {
	t.Helper()
	client := adjoinv1.NewBadgeServiceClient(conn)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var got calls
	_, err := client.GetBadge(ctx, &adjoinv1.GetBadgeRequest{Selector: bySID(keyPgustavo)})
	got.get = status.Code(err)
	// SetIntegration on leaves the state as it is.
	_, err = client.SetIntegration(ctx, &adjoinv1.SetIntegrationRequest{Side: adjoinv1.Side_SIDE_ENDPOINT, Enabled: true})
	got.set = status.Code(err)
	stream, err := client.WatchBadges(ctx, &adjoinv1.WatchBadgesRequest{Selectors: []*adjoinv1.EntitySelector{bySID(keyPgustavo)}})
	if err == nil {
		_, err = stream.Recv()
	}
	got.watch = status.Code(err)
	return got
}

func bearer(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", token)
}

func TestTokens(t *testing.T) {
	t.Parallel()
	tokens := writeFile(t, t.TempDir(), "tokens", []byte("# roles\nread r0\n\nadmin a0\n"))
	h := startBadge(t, func(c *badge.Config) { c.Security.TokensFile = tokens })
	tests := []struct {
		name string
		ctx  context.Context
		want calls
	}{
		{"no token", context.Background(), calls{codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated}},
		{"unknown token", bearer("Bearer x0"), calls{codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated}},
		{"token without the Bearer scheme", bearer("r0"), calls{codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated}},
		{"a token's prefix", bearer("Bearer r"), calls{codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated}},
		{"read token", bearer("Bearer r0"), calls{codes.OK, codes.PermissionDenied, codes.OK}},
		{"admin token", bearer("Bearer a0"), calls{codes.OK, codes.OK, codes.OK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tryCalls(t, tt.ctx, h.conn); got != tt.want {
				t.Errorf("GetBadge/SetIntegration/WatchBadges %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("health and reflection without a token", func(t *testing.T) {
		ctx := rpcCtx(t)
		resp, err := healthpb.NewHealthClient(h.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: adjoinv1.BadgeService_ServiceDesc.ServiceName})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %v, %v; want SERVING", resp, err)
		}
		stream, err := reflectionpb.NewServerReflectionClient(h.conn).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "adjoin.v1.BadgeService"},
		}); err != nil {
			t.Fatal(err)
		}
		r, err := stream.Recv()
		if err != nil || len(r.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
			t.Errorf("reflection %v, %v; want the service's file descriptor", r, err)
		}
	})
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	root, certFile, keyFile, caFile := serverPKI(t)
	h := startBadge(t, func(c *badge.Config) {
		c.Security = badge.Security{TLSCert: certFile, TLSKey: keyFile, TLSClientCA: caFile, AdminCNs: "ops-admin, soc-bot"}
	}, clientTLS(t, root, root, "portal", time.Time{}))
	other := newCA(t, "another CA")
	tests := []struct {
		name string
		dial grpc.DialOption
		want calls
	}{
		{"client certificate portal: read", clientTLS(t, root, root, "portal", time.Time{}), calls{codes.OK, codes.PermissionDenied, codes.OK}},
		{"client certificate listed in admin-cns", clientTLS(t, root, root, "ops-admin", time.Time{}), calls{codes.OK, codes.OK, codes.OK}},
		{"second admin common name", clientTLS(t, root, root, "soc-bot", time.Time{}), calls{codes.OK, codes.OK, codes.OK}},
		{"no client certificate", clientTLS(t, root, root, "", time.Time{}), calls{codes.Unavailable, codes.Unavailable, codes.Unavailable}},
		{"admin name from another CA", clientTLS(t, root, other, "ops-admin", time.Time{}), calls{codes.Unavailable, codes.Unavailable, codes.Unavailable}},
		{"expired client certificate", clientTLS(t, root, root, "ops-admin", time.Now().Add(-time.Minute)), calls{codes.Unavailable, codes.Unavailable, codes.Unavailable}},
		{"plaintext", grpc.WithTransportCredentials(insecure.NewCredentials()), calls{codes.Unavailable, codes.Unavailable, codes.Unavailable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := h.dial(t, tt.dial)
			if got := tryCalls(t, context.Background(), conn); got != tt.want {
				t.Errorf("GetBadge/SetIntegration/WatchBadges %v, want %v", got, tt.want)
			}
		})
	}
	// The last admin whose toggle went through is named by its certificate.
	st, err := h.client.GetIntegrationStatus(rpcCtx(t), &adjoinv1.GetIntegrationStatusRequest{})
	if err != nil || st.GetEndpoint().GetChangedBy() != "cert:soc-bot" {
		t.Errorf("endpoint toggle changed by %q (%v), want cert:soc-bot", st.GetEndpoint().GetChangedBy(), err)
	}
}

// TestTLSWithTokens: TLS without client certificates leaves the caller checks to tokens.
func TestTLSWithTokens(t *testing.T) {
	t.Parallel()
	root, certFile, keyFile, _ := serverPKI(t)
	tokens := writeFile(t, t.TempDir(), "tokens", []byte("read r0\nadmin a0\n"))
	h := startBadge(t, func(c *badge.Config) {
		c.Security = badge.Security{TLSCert: certFile, TLSKey: keyFile, TokensFile: tokens}
	}, clientTLS(t, root, root, "", time.Time{}))
	tests := []struct {
		name string
		ctx  context.Context
		want calls
	}{
		{"no token", context.Background(), calls{codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated}},
		{"read token", bearer("Bearer r0"), calls{codes.OK, codes.PermissionDenied, codes.OK}},
		{"admin token", bearer("Bearer a0"), calls{codes.OK, codes.OK, codes.OK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tryCalls(t, tt.ctx, h.conn); got != tt.want {
				t.Errorf("GetBadge/SetIntegration/WatchBadges %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("plaintext client", func(t *testing.T) {
		conn := h.dial(t, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if got, want := tryCalls(t, bearer("Bearer a0"), conn), (calls{codes.Unavailable, codes.Unavailable, codes.Unavailable}); got != want {
			t.Errorf("GetBadge/SetIntegration/WatchBadges %v, want %v", got, want)
		}
	})
}

func TestSecurityValidate(t *testing.T) {
	t.Parallel()
	_, certFile, keyFile, caFile := serverPKI(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name    string
		sec     badge.Security
		wantErr string // the setting the error starts with; "" for valid
	}{
		{"nothing", badge.Security{}, ""},
		{"tls", badge.Security{TLSCert: certFile, TLSKey: keyFile}, ""},
		{"mtls with admins", badge.Security{TLSCert: certFile, TLSKey: keyFile, TLSClientCA: caFile, AdminCNs: "ops-admin"}, ""},
		{"cert without key", badge.Security{TLSCert: certFile}, "tls-cert"},
		{"key without cert", badge.Security{TLSKey: keyFile}, "tls-cert and tls-key"},
		{"client CA without cert", badge.Security{TLSClientCA: caFile}, "tls-client-ca"},
		{"admin-cns without client CA", badge.Security{TLSCert: certFile, TLSKey: keyFile, AdminCNs: "ops-admin"}, "admin-cns"},
		{"missing cert file", badge.Security{TLSCert: missing, TLSKey: keyFile}, "tls-cert"},
		{"missing key file", badge.Security{TLSCert: certFile, TLSKey: missing}, "tls-key"},
		{"missing client CA file", badge.Security{TLSCert: certFile, TLSKey: keyFile, TLSClientCA: missing}, "tls-client-ca"},
		{"missing tokens file", badge.Security{TokensFile: missing}, "tokens-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.sec.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Errorf("Validate = %v, want an error naming %s", err, tt.wantErr)
			}
			cfg := badge.DefaultConfig()
			cfg.Listener, cfg.Security = nopListener{}, tt.sec
			if cerr := cfg.Validate(); (cerr == nil) != (err == nil) {
				t.Errorf("Config.Validate = %v, Security.Validate = %v", cerr, err)
			}
		})
	}
}

// TestSecurityFiles: files that exist but cannot be used are refused, naming the setting.
func TestSecurityFiles(t *testing.T) {
	t.Parallel()
	_, certFile, keyFile, caFile := serverPKI(t)
	dir := t.TempDir()
	tests := []struct {
		name    string
		sec     badge.Security
		wantErr string
	}{
		{"tokens", badge.Security{TokensFile: writeFile(t, dir, "ok", []byte("read r0\nadmin a0 \n"))}, ""},
		{"unknown role", badge.Security{TokensFile: writeFile(t, dir, "role", []byte("read r0\nroot x\n"))}, "tokens-file"},
		{"role without token", badge.Security{TokensFile: writeFile(t, dir, "bare", []byte("admin\n"))}, "tokens-file"},
		{"no tokens", badge.Security{TokensFile: writeFile(t, dir, "empty", []byte("# nobody\n"))}, "tokens-file"},
		{"key of another certificate", badge.Security{TLSCert: certFile, TLSKey: writeFile(t, dir, "k.pem", mustKey(t))}, "tls-cert/tls-key"},
		{"client CA without a certificate", badge.Security{TLSCert: certFile, TLSKey: keyFile, TLSClientCA: writeFile(t, dir, "ca.txt", []byte("not pem"))}, "tls-client-ca"},
		{"mtls", badge.Security{TLSCert: certFile, TLSKey: keyFile, TLSClientCA: caFile}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.sec.ServerOptions()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("ServerOptions = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Errorf("ServerOptions = %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}

func mustKey(t *testing.T) []byte {
	t.Helper()
	_, keyPEM := newCA(t, "x").issue(t, "x", true, time.Time{})
	return keyPEM
}

// nopListener satisfies Config.Validate's need for an address.
type nopListener struct{ net.Listener }
