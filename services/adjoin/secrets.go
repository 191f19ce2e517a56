package adjoin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// natsUsers are the users of deploy/nats/auth.conf: admin provisions, each service has its own,
// and viewer reads the result streams (adjoin tail) for security teams and operators.
var natsUsers = []string{"admin", "dcingest", "endpointingest", "correlator", "badge", "viewer"}

// Names the lab certificates are made for.
var (
	// natsServerNames are the host names of the NATS servers of the Compose profiles.
	natsServerNames = []string{"nats", "nats-1", "nats-2", "nats-3", "localhost"}
	// badgeServerNames are the host names of the badge service's gRPC endpoint.
	badgeServerNames = []string{"badge", "localhost"}
	// intakeServerNames are the host names of the ingestors' HTTPS intake (one certificate for
	// both).
	intakeServerNames = []string{"dcingest", "endpointingest", "localhost"}
	// intakeSenders get a token each in intake-tokens (both ingestors read that file) and in
	// intake-<sender>.token, the file a sender (adjoin ingest --token-file, curl) reads.
	intakeSenders = []string{"dc-sensor", "endpoint-agent"}
	// grpcClientRoles maps each gRPC client certificate to its common name; the badge service
	// gives the admin role to the names in --admin-cns (grpcAdminCN) and read to the others.
	grpcClientRoles = map[string]string{"admin": grpcAdminCN, "read": "adjoin-read"}
)

// grpcAdminCN is the common name of the gRPC admin client certificate.
const grpcAdminCN = "adjoin-admin"

// SecretsOptions says where and what `adjoin secrets` writes.
type SecretsOptions struct {
	Dir string
	// Force replaces existing files; without it WriteSecrets refuses to overwrite anything.
	Force bool
	// RotatePasswords writes new passwords, hashes and intake tokens only, keeping the CA and
	// certificates.
	RotatePasswords bool
	// Mode of private keys and password files (default 0600).
	Mode fs.FileMode
}

// WriteSecrets makes a lab CA, the certificates and random passwords of a deployment (see
// docs/security.md) and returns the files written. Password files are rewritten in
// place, so a bind mount of one sees the new password.
func WriteSecrets(o SecretsOptions) ([]string, error) {
	if o.Mode == 0 {
		o.Mode = 0o600
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	w := &secretWriter{dir: o.Dir, mode: o.Mode, force: o.Force || o.RotatePasswords}
	if !w.force {
		for _, name := range []string{"ca.crt", "nats-passwords.conf"} {
			if _, err := os.Stat(filepath.Join(o.Dir, name)); err == nil {
				return nil, fmt.Errorf("%s exists: use --force to replace every secret, or --rotate-passwords for new passwords only",
					filepath.Join(o.Dir, name))
			}
		}
	}
	if !o.RotatePasswords {
		if err := w.certificates(); err != nil {
			return w.written, err
		}
	}
	if err := w.passwords(); err != nil {
		return w.written, err
	}
	if err := w.intakeTokens(); err != nil {
		return w.written, err
	}
	return w.written, nil
}

type secretWriter struct {
	dir     string
	mode    fs.FileMode
	force   bool
	written []string
}

func (w *secretWriter) write(name string, data []byte, mode fs.FileMode) error {
	path := filepath.Join(w.dir, name)
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if !w.force {
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, mode)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: use --force to replace every secret, or --rotate-passwords for new passwords only", path)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(path, mode) // an existing file keeps its mode otherwise
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	w.written = append(w.written, path)
	return nil
}

func (w *secretWriter) certificates() error {
	ca, caKey, err := newCA()
	if err != nil {
		return err
	}
	if err := w.pair("ca", ca, caKey); err != nil {
		return err
	}
	leaves := []leafSpec{
		// routes use the server certificate as their client certificate too
		{file: "nats-server", cn: "nats", dns: natsServerNames, server: true, client: true},
		{file: "badge-grpc", cn: "badge", dns: badgeServerNames, server: true},
		{file: "intake", cn: "intake", dns: intakeServerNames, server: true},
	}
	for _, u := range natsUsers {
		leaves = append(leaves, leafSpec{file: "nats-" + u, cn: u, client: true})
	}
	for role, cn := range grpcClientRoles {
		leaves = append(leaves, leafSpec{file: "grpc-" + role, cn: cn, client: true})
	}
	for _, l := range leaves {
		cert, key, err := newLeaf(ca, caKey, l)
		if err != nil {
			return fmt.Errorf("certificate %s: %w", l.file, err)
		}
		if err := w.pair(l.file, cert, key); err != nil {
			return err
		}
	}
	return nil
}

// leafSpec is one certificate signed by the lab CA, written to file.crt and file.key.
type leafSpec struct {
	file, cn       string
	dns            []string
	server, client bool
}

// pair writes name.crt and name.key.
func (w *secretWriter) pair(name string, cert *x509.Certificate, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := w.write(name+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		return err
	}
	return w.write(name+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), w.mode)
}

// passwords writes nats-<user>.password for each user, their bcrypt hashes as the variables
// of nats-passwords.conf (included by deploy/nats/auth.conf) and adjoin.env.
func (w *secretWriter) passwords() error {
	var conf, env strings.Builder
	conf.WriteString("# Written by `adjoin secrets`: bcrypt hashes of the NATS users' passwords, used by auth.conf.\n")
	env.WriteString("# Written by `adjoin secrets`: the NATS users' passwords (the same as nats-<user>.password).\n")
	for _, u := range natsUsers {
		password, err := randomPassword()
		if err != nil {
			return err
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			return err
		}
		name := strings.ToUpper(u)
		fmt.Fprintf(&conf, "%s_PASSWORD_HASH: %q\n", name, hash)
		fmt.Fprintf(&env, "ADJOIN_NATS_%s_PASSWORD=%s\n", name, password)
		if err := w.write("nats-"+u+".password", []byte(password+"\n"), w.mode); err != nil {
			return err
		}
	}
	if err := w.write("nats-passwords.conf", []byte(conf.String()), w.mode); err != nil {
		return err
	}
	return w.write("adjoin.env", []byte(env.String()), w.mode)
}

// intakeTokens writes intake-tokens, the ingestors' --tokens-file ("<sender> <token>" lines),
// and each sender's token alone in intake-<sender>.token. Both are rewritten in place: the
// ingestors re-read their tokens file when it changes, so a rotation needs no restart.
func (w *secretWriter) intakeTokens() error {
	var file strings.Builder
	file.WriteString("# Written by `adjoin secrets`: the HTTP intake's sender tokens, \"<sender> <token>\" per line.\n")
	file.WriteString("# Remove a line to cut that sender off (the ingestors re-read this file when it changes).\n")
	for _, sender := range intakeSenders {
		token, err := randomPassword()
		if err != nil {
			return err
		}
		fmt.Fprintf(&file, "%s %s\n", sender, token)
		if err := w.write("intake-"+sender+".token", []byte(token+"\n"), w.mode); err != nil {
			return err
		}
	}
	return w.write("intake-tokens", []byte(file.String()), w.mode)
}

// randomPassword is 32 characters of [A-Za-z0-9]: about 190 bits, and safe unquoted in env
// files and shells.
func randomPassword() (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 32)
	for i := range out {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		out[i] = alphabet[n.Int64()]
	}
	return string(out), nil
}

func newCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "adjoin lab CA", Organization: []string{"adjoin"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	cert, err := sign(tmpl, tmpl, &key.PublicKey, key)
	return cert, key, err
}

// newLeaf signs the certificate of l. A server certificate names its hosts (and 127.0.0.1); a
// client-only one names no host, so it can never pass for a server or a cluster peer.
func newLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, l leafSpec) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: l.cn, Organization: []string{"adjoin"}},
		NotBefore: time.Now().Add(-time.Hour),
		NotAfter:  time.Now().AddDate(2, 0, 0),
		KeyUsage:  x509.KeyUsageDigitalSignature,
	}
	if l.server {
		tmpl.DNSNames, tmpl.IPAddresses = l.dns, []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if l.client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	cert, err := sign(tmpl, ca, &key.PublicKey, caKey)
	return cert, key, err
}

func sign(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
