package natsx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/adjoin/adjoin/pkg/config"
)

// Settings are the NATS settings every service shares.
type Settings struct {
	ConnectOptions
	// Replicas of streams and buckets: 1 on a single server, 3 on a cluster.
	Replicas int
}

// Flags defines the NATS settings on s.
func (c *Settings) Flags(s *config.Set) {
	c.ConnectOptions.Flags(s)
	s.Int(&c.Replicas, "replicas", 1, "replicas of streams and buckets: 1, or 3 on a cluster")
}

// Flags defines the connection settings on s: server URLs, credentials and TLS, for the
// commands that only read or write a deployment (adjoin tail, adjoin ingest).
func (c *ConnectOptions) Flags(s *config.Set) {
	s.String(&c.URL, "nats-url", "nats://127.0.0.1:4222", "NATS server URL(s), comma-separated")
	s.String(&c.User, "nats-user", "", "NATS user name")
	s.String(&c.Password, "nats-password", "", "NATS password (prefer nats-password-file)")
	s.String(&c.PasswordFile, "nats-password-file", "", "file holding the NATS password, read again on every reconnect (rotation)")
	s.String(&c.CredsFile, "nats-creds", "", "NATS credentials file (JWT and nkey)")
	s.String(&c.CAFile, "nats-ca-file", "", "CA bundle (PEM) the NATS server certificate must chain to; requires TLS")
	s.String(&c.CertFile, "nats-cert-file", "", "client certificate (PEM) for NATS servers that verify clients (mTLS)")
	s.String(&c.KeyFile, "nats-key-file", "", "client private key (PEM) of nats-cert-file")
	s.String(&c.InboxPrefix, "nats-inbox-prefix", "", "subject prefix of replies; empty: _INBOX_<nats-user> with a user, else _INBOX")
}

// Validate names the first bad NATS setting. It reads the password, CA and certificate files,
// so a wrong path or a mismatched key is reported at start, not at the first reconnect.
func (c Settings) Validate() error {
	switch {
	case c.URL == "":
		return errors.New("nats-url: required")
	case c.Replicas != 1 && c.Replicas != 3:
		return fmt.Errorf("replicas: %d, want 1 or 3", c.Replicas)
	}
	return c.ConnectOptions.Validate()
}

// Validate names the first bad credential or TLS setting.
func (o ConnectOptions) Validate() error {
	switch {
	case o.Password != "" && o.PasswordFile != "":
		return errors.New("nats-password and nats-password-file: give one, not both")
	case o.PasswordFile != "" && o.User == "":
		return errors.New("nats-password-file: needs nats-user")
	case (o.CertFile == "") != (o.KeyFile == ""):
		return errors.New("nats-cert-file and nats-key-file: give both or neither")
	case strings.ContainsAny(o.InboxPrefix, "*> \t") || strings.HasSuffix(o.InboxPrefix, "."):
		return fmt.Errorf("nats-inbox-prefix: %q, want a subject without wildcards or a trailing dot", o.InboxPrefix)
	}
	if o.PasswordFile != "" {
		if _, err := ReadPassword(o.PasswordFile); err != nil {
			return fmt.Errorf("nats-password-file: %w", err)
		}
	}
	if o.CredsFile != "" {
		if _, err := os.Stat(o.CredsFile); err != nil {
			return fmt.Errorf("nats-creds: %w", err)
		}
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return fmt.Errorf("nats-ca-file: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return fmt.Errorf("nats-ca-file %s: no PEM certificate found", o.CAFile)
		}
	}
	if o.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile); err != nil {
			return fmt.Errorf("nats-cert-file and nats-key-file: %w", err)
		}
	}
	return nil
}
