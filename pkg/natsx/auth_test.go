package natsx_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// writeCert writes a self-signed certificate (usable as a CA bundle too) and its key.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "test.crt"), filepath.Join(dir, "test.key")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
	return certFile, keyFile
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestConnectOptionsValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	password, empty, notPEM := filepath.Join(dir, "pw"), filepath.Join(dir, "empty"), filepath.Join(dir, "not.pem")
	writeFile(t, password, "s3cret\n")
	writeFile(t, empty, "\n")
	writeFile(t, notPEM, "hello")
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name    string
		o       natsx.ConnectOptions
		wantErr string
	}{
		{name: "nothing", o: natsx.ConnectOptions{}},
		{name: "user and password file", o: natsx.ConnectOptions{User: "dcingest", PasswordFile: password}},
		{name: "TLS with client certificate", o: natsx.ConnectOptions{CAFile: cert, CertFile: cert, KeyFile: key}},
		{name: "password twice", o: natsx.ConnectOptions{User: "u", Password: "p", PasswordFile: password}, wantErr: "nats-password and nats-password-file"},
		{name: "password file without user", o: natsx.ConnectOptions{PasswordFile: password}, wantErr: "nats-password-file: needs nats-user"},
		{name: "missing password file", o: natsx.ConnectOptions{User: "u", PasswordFile: missing}, wantErr: "nats-password-file"},
		{name: "empty password file", o: natsx.ConnectOptions{User: "u", PasswordFile: empty}, wantErr: "nats-password-file"},
		{name: "missing CA", o: natsx.ConnectOptions{CAFile: missing}, wantErr: "nats-ca-file"},
		{name: "CA not PEM", o: natsx.ConnectOptions{CAFile: notPEM}, wantErr: "nats-ca-file"},
		{name: "certificate without key", o: natsx.ConnectOptions{CertFile: cert}, wantErr: "nats-cert-file and nats-key-file"},
		{name: "key that is no key", o: natsx.ConnectOptions{CertFile: cert, KeyFile: notPEM}, wantErr: "nats-cert-file and nats-key-file"},
		{name: "missing creds", o: natsx.ConnectOptions{CredsFile: missing}, wantErr: "nats-creds"},
		{name: "wildcard inbox", o: natsx.ConnectOptions{InboxPrefix: "_INBOX.>"}, wantErr: "nats-inbox-prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.o.Validate()
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate = %v, want error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestReadPassword(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pw")
	writeFile(t, path, "  s3cret \nsecond line\n")
	if got, err := natsx.ReadPassword(path); err != nil || got != "s3cret" {
		t.Errorf("ReadPassword = %q, %v; want s3cret", got, err)
	}
}

// A user's replies come back on _INBOX_<user> unless a prefix is given.
func TestInboxPrefix(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	for _, tt := range []struct {
		o    natsx.ConnectOptions
		want string
	}{
		{natsx.ConnectOptions{}, "_INBOX."},
		{natsx.ConnectOptions{User: "dcingest"}, "_INBOX_dcingest."},
		{natsx.ConnectOptions{User: "dcingest", InboxPrefix: "_R_dc"}, "_R_dc."},
	} {
		tt.o.URL = srv.ClientURL()
		if tt.o.User != "" {
			tt.o.Password = "ignored by a server without authorization"
		}
		nc, err := natsx.Connect(testCtx(t), tt.o, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		if got := nc.NewInbox(); !strings.HasPrefix(got, tt.want) {
			t.Errorf("user %q prefix %q: inbox %s, want prefix %s", tt.o.User, tt.o.InboxPrefix, got, tt.want)
		}
		js, err := jetstream.New(nc)
		if err == nil {
			_, err = js.Stream(testCtx(t), natsx.StreamAlerts) // a request answered on that inbox
		}
		if err != nil {
			t.Errorf("request with inbox %s: %v", tt.want, err)
		}
		nc.Close()
	}
}

// Setup creates what is missing and leaves what exists as it is: changing a stream is the
// admin's `adjoin provision`.
func TestSetupCreatesOnlyWhatIsMissing(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := testCtx(t)
	if err := srv.JS.DeleteStream(ctx, natsx.StreamIncidents); err != nil {
		t.Fatal(err)
	}
	if err := srv.JS.DeleteKeyValue(ctx, natsx.BucketStatus); err != nil {
		t.Fatal(err)
	}
	s, err := srv.JS.Stream(ctx, natsx.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.Description = "changed by the admin"
	if _, err := srv.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	nc, js, err := natsx.Setup(ctx, natsx.ConnectOptions{URL: srv.ClientURL()}, 1, zap.NewNop())
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	defer nc.Close()
	if err := natsx.Check(ctx, js, natsx.NewTopology(1)); err != nil {
		t.Errorf("after Setup: %v", err)
	}
	s, err = js.Stream(ctx, natsx.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Description; got != cfg.Description {
		t.Errorf("DEADLETTER description after Setup = %q, want %q as the admin set it", got, cfg.Description)
	}
}
