package badge

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/services/badge/internal/ports"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Security is the transport security and caller checks of the gRPC server.
type Security struct {
	// TLSCert and TLSKey enable TLS; TLSClientCA also requires and verifies client
	// certificates (mTLS).
	TLSCert, TLSKey, TLSClientCA string
	// TokensFile lists bearer tokens, one "<role> <token>" per line (role read or admin).
	TokensFile string
	// AdminCNs are client certificate common names given the admin role (comma-separated).
	AdminCNs string
}

// Flags defines the security settings on s.
func (c *Security) Flags(s *config.Set) {
	s.String(&c.TLSCert, "tls-cert", "", "server certificate (PEM); enables TLS")
	s.String(&c.TLSKey, "tls-key", "", "server private key (PEM)")
	s.String(&c.TLSClientCA, "tls-client-ca", "", "CA bundle (PEM) that client certificates must chain to; enables mTLS")
	s.String(&c.TokensFile, "tokens-file", "", `bearer tokens, one "<read|admin> <token>" per line; enables token checks`)
	s.String(&c.AdminCNs, "admin-cns", "", "client certificate common names with the admin role, comma-separated")
}

// Validate names the first inconsistent security setting.
func (c Security) Validate() error {
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("tls-cert and tls-key: give both or neither")
	case c.TLSClientCA != "" && c.TLSCert == "":
		return errors.New("tls-client-ca: needs tls-cert and tls-key")
	case c.AdminCNs != "" && c.TLSClientCA == "":
		return errors.New("admin-cns: needs tls-client-ca")
	}
	for _, f := range []struct{ name, path string }{{"tls-cert", c.TLSCert}, {"tls-key", c.TLSKey}, {"tls-client-ca", c.TLSClientCA}, {"tokens-file", c.TokensFile}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// ServerOptions loads the certificates and tokens.
func (c Security) ServerOptions() ([]grpc.ServerOption, *ports.Auth, error) {
	auth := &ports.Auth{AdminCNs: map[string]bool{}}
	for _, cn := range strings.Split(c.AdminCNs, ",") {
		if cn = strings.TrimSpace(cn); cn != "" {
			auth.AdminCNs[cn] = true
		}
	}
	if c.TokensFile != "" {
		tokens, err := readTokens(c.TokensFile)
		if err != nil {
			return nil, nil, err
		}
		auth.Tokens = tokens
	}
	if c.TLSCert == "" {
		return nil, auth, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, nil, fmt.Errorf("tls-cert/tls-key: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.TLSClientCA != "" {
		pem, err := os.ReadFile(c.TLSClientCA)
		if err != nil {
			return nil, nil, fmt.Errorf("tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("tls-client-ca %s: no PEM certificate found", c.TLSClientCA)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
		auth.ClientCerts = true
	}
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(tc))}, auth, nil
}

func readTokens(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens-file: %w", err)
	}
	defer f.Close()
	tokens := map[string]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		role, token, ok := strings.Cut(text, " ")
		token = strings.TrimSpace(token)
		if !ok || token == "" || (role != ports.RoleRead && role != ports.RoleAdmin) {
			return nil, fmt.Errorf(`tokens-file %s line %d: want "<read|admin> <token>"`, path, line)
		}
		tokens[token] = role
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens-file: %w", err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("tokens-file %s: no tokens", path)
	}
	return tokens, nil
}
