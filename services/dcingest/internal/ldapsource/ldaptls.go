package ldapsource

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// TLSOptions say how the DC's certificate is checked.
type TLSOptions struct {
	// CAFile is a PEM file of the CAs to trust; empty means the system's.
	CAFile string
	// ServerName is the name the certificate must carry; empty means the URL's host. Lab DCs
	// are often reached at 127.0.0.1 while their certificate names their FQDN.
	ServerName string
	// InsecureSkipVerify accepts any certificate (labs only).
	InsecureSkipVerify bool
}

// LoadCA reads a PEM file of CA certificates; it fails when the file holds none.
func LoadCA(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for n := 0; ; {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			if n == 0 {
				return nil, fmt.Errorf("%s holds no PEM certificate", path)
			}
			return pool, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w%s", path, n+1, err, negativeSerialHint(err))
		}
		pool.AddCert(c)
		n++
	}
}

// negativeSerialHint explains Go's refusal of the negative serial numbers in Samba's
// self-generated certificates.
func negativeSerialHint(err error) string {
	if err == nil || !strings.Contains(err.Error(), "negative serial number") {
		return ""
	}
	return " (Samba's self-generated certificates have one: give the DC a proper certificate, or run with GODEBUG=x509negativeserial=1)"
}

// config builds the TLS client settings for host. Verification is done by hand, so that
// (1) the reason a certificate was refused survives go-ldap's StartTLS, which flattens the
// handshake error to text, and (2) a certificate without subjectAltName is matched on its
// CN, as OpenLDAP's client does: Samba's self-generated certificates name the DC only there.
// verified returns the reason of the last refusal, or nil.
func (o TLSOptions) config(host string) (conf *tls.Config, verified func() error, err error) {
	conf = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if o.ServerName != "" {
		conf.ServerName = o.ServerName
	}
	if o.InsecureSkipVerify {
		conf.InsecureSkipVerify = true
		return conf, func() error { return nil }, nil
	}
	var roots *x509.CertPool
	if o.CAFile != "" {
		if roots, err = LoadCA(o.CAFile); err != nil {
			return nil, nil, fmt.Errorf("--ldap-ca-file: %w", err)
		}
	}
	v := &verifier{roots: roots, name: conf.ServerName}
	conf.InsecureSkipVerify = true // verifyConnection below does the full check
	conf.VerifyConnection = v.verifyConnection
	return conf, v.last, nil
}

type verifier struct {
	roots *x509.CertPool
	name  string
	mu    sync.Mutex
	err   error
}

func (v *verifier) last() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

func (v *verifier) verifyConnection(cs tls.ConnectionState) error {
	err := v.check(cs.PeerCertificates)
	v.mu.Lock()
	v.err = err
	v.mu.Unlock()
	return err
}

func (v *verifier) check(chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("the server sent no certificate")
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: v.roots, Intermediates: inter}); err != nil {
		return err
	}
	err := leaf.VerifyHostname(v.name)
	if err != nil && len(leaf.DNSNames) == 0 && len(leaf.IPAddresses) == 0 && v.name != "" &&
		strings.EqualFold(leaf.Subject.CommonName, v.name) {
		return nil
	}
	return err
}

// certReason words a refused certificate with the setting that fixes it.
func certReason(err error) string {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &ua):
		return "certificate signed by unknown authority (check --ldap-ca-file)"
	case errors.As(err, &he):
		return fmt.Sprintf("certificate is for %s, not %s (check --ldap-server-name)", certNames(he.Certificate), he.Host)
	case errors.As(err, &ci):
		return ci.Error()
	case errors.As(err, &rh):
		return "the server did not answer in TLS (ldaps:// to a plain LDAP port? check --ldap-url)"
	}
	return err.Error() + negativeSerialHint(err)
}

func certNames(c *x509.Certificate) string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	if len(names) == 0 {
		return "no name"
	}
	return strings.Join(names, ", ")
}
