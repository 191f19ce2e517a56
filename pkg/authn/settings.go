package authn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/adjoin/adjoin/pkg/config"
)

// Settings are a listener's TLS, client certificate and token settings, and the operator's
// explicit consent to run without them.
type Settings struct {
	// TLSCert and TLSKey enable TLS; TLSClientCA also requires and verifies client
	// certificates (mTLS).
	TLSCert, TLSKey, TLSClientCA string
	// TokensFile lists bearer tokens, one "<name> <token>" per line.
	TokensFile string
	// Insecure allows listening beyond loopback without authentication.
	Insecure bool
}

// Flags defines --tls-cert, --tls-key, --tls-client-ca, --tokens-file and --insecure;
// tokensHelp says what the name of a tokens file line is.
func (c *Settings) Flags(s *config.Set, tokensHelp string) {
	s.String(&c.TLSCert, "tls-cert", "", "server certificate (PEM); enables TLS")
	s.String(&c.TLSKey, "tls-key", "", "server private key (PEM)")
	s.String(&c.TLSClientCA, "tls-client-ca", "", "CA bundle (PEM) that client certificates must chain to; enables mTLS")
	s.String(&c.TokensFile, "tokens-file", "", tokensHelp)
	s.Bool(&c.Insecure, "insecure", false, InsecureHelp)
}

// InsecureHelp is the help of every binary's --insecure.
const InsecureHelp = "allow listening on a non-loopback address without authentication (no --tokens-file or --tls-client-ca)"

// Authenticated reports whether callers must prove who they are (tokens or client certificates).
func (c Settings) Authenticated() bool { return c.TokensFile != "" || c.TLSClientCA != "" }

// Validate names the first inconsistent setting or unreadable file.
func (c Settings) Validate() error {
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("tls-cert and tls-key: give both or neither")
	case c.TLSClientCA != "" && c.TLSCert == "":
		return errors.New("tls-client-ca: needs tls-cert and tls-key")
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

// CheckListen applies the exposure rule to the listener of setting (e.g. "http-addr") at addr.
func (c Settings) CheckListen(setting, addr string) error {
	if c.Authenticated() || c.Insecure || Loopback(addr) {
		return nil
	}
	return fmt.Errorf("%s %q is not a loopback address and nothing authenticates callers: set --tokens-file "+
		"(bearer tokens) or --tls-client-ca with --tls-cert and --tls-key (mTLS), or listen on 127.0.0.1, "+
		"or pass --insecure to accept anyone who can reach the port", setting, addr)
}

// ServerTLS loads the server certificate and, with TLSClientCA, the CAs client certificates
// must chain to; nil without TLSCert.
func (c Settings) ServerTLS() (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("tls-cert/tls-key: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.TLSClientCA != "" {
		pool, err := certPool("tls-client-ca", c.TLSClientCA)
		if err != nil {
			return nil, err
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// ClientTLS is a client's TLS configuration: the CA of the server's certificate and, for mTLS,
// a client certificate (certFile and keyFile, optional).
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	pool, err := certPool("tls-ca", caFile)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("tls-cert/tls-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func certPool(setting, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %s: no PEM certificate found", setting, path)
	}
	return pool, nil
}
