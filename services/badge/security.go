package badge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/adjoin/adjoin/pkg/authn"
	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/services/badge/internal/ports"
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
	// Insecure allows a non-loopback grpc-addr without tokens or client certificates.
	Insecure bool
}

// Flags defines the security settings on s.
func (c *Security) Flags(s *config.Set) {
	s.String(&c.TLSCert, "tls-cert", "", "server certificate (PEM); enables TLS")
	s.String(&c.TLSKey, "tls-key", "", "server private key (PEM)")
	s.String(&c.TLSClientCA, "tls-client-ca", "", "CA bundle (PEM) that client certificates must chain to; enables mTLS")
	s.String(&c.TokensFile, "tokens-file", "", `bearer tokens, one "<read|admin> <token>" per line (re-read on change and on SIGHUP); enables token checks`)
	s.String(&c.AdminCNs, "admin-cns", "", "client certificate common names with the admin role, comma-separated")
	s.Bool(&c.Insecure, "insecure", false, authn.InsecureHelp)
}

// settings are the checks the badge service shares with the other listeners.
func (c Security) settings() authn.Settings {
	return authn.Settings{TLSCert: c.TLSCert, TLSKey: c.TLSKey, TLSClientCA: c.TLSClientCA, TokensFile: c.TokensFile, Insecure: c.Insecure}
}

// Validate names the first inconsistent security setting.
func (c Security) Validate() error {
	if err := c.settings().Validate(); err != nil {
		return err
	}
	if c.AdminCNs != "" && c.TLSClientCA == "" {
		return errors.New("admin-cns: needs tls-client-ca")
	}
	return nil
}

// ServerOptions loads the certificates and tokens.
func (c Security) ServerOptions() ([]grpc.ServerOption, *ports.Auth, error) {
	auth := &ports.Auth{AdminCNs: map[string]bool{}, ClientCerts: c.TLSClientCA != ""}
	for _, cn := range strings.Split(c.AdminCNs, ",") {
		if cn = strings.TrimSpace(cn); cn != "" {
			auth.AdminCNs[cn] = true
		}
	}
	if c.TokensFile != "" {
		tokens, err := authn.OpenTokenFile(c.TokensFile, role)
		if err != nil {
			return nil, nil, err
		}
		auth.Tokens = tokens
	}
	tc, err := c.settings().ServerTLS()
	if err != nil {
		return nil, nil, err
	}
	if tc == nil {
		return nil, auth, nil
	}
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(tc))}, auth, nil
}

// role accepts the names of the badge service's tokens file: the roles.
func role(name string) error {
	if name != ports.RoleRead && name != ports.RoleAdmin {
		return fmt.Errorf(`role %q: want "<read|admin> <token>"`, name)
	}
	return nil
}

// logListening says how callers are checked, as a warning when nothing checks them beyond
// loopback (anyone who reaches the port may turn the integration off), and keeps the tokens
// file current.
func logListening(ctx context.Context, log *zap.Logger, addr string, c Security, auth *ports.Auth) {
	fields := []zap.Field{zap.String("addr", addr), zap.Bool("tls", c.TLSCert != ""), zap.Bool("auth", auth.Enabled())}
	if !auth.Enabled() && !authn.Loopback(addr) {
		log.Warn("grpc listening", append(fields, zap.String("warning",
			"no authentication: anyone who reaches this port may read badges and call SetIntegration (see --tokens-file, --tls-client-ca)"))...)
	} else {
		log.Info("grpc listening", fields...)
	}
	if auth.Tokens != nil {
		go auth.Tokens.Watch(ctx, 5*time.Second, log)
	}
}
