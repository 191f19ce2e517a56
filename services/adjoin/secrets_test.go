package adjoin

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/authn"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSecretsCommand: `adjoin secrets` writes certificates that chain to its CA with the names
// the deployment uses, keeps keys and passwords private, refuses to overwrite, and rotates
// passwords alone.
func TestSecretsCommand(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "secrets")
	run := func(args ...string) (string, int) {
		var out, errOut strings.Builder
		code := Main(t.Context(), append([]string{"secrets", "--dir", dir}, args...), &out, &errOut)
		return out.String() + errOut.String(), code
	}
	if out, code := run(); code != 0 {
		t.Fatalf("adjoin secrets: exit %d: %s", code, out)
	}
	pool := x509.NewCertPool()
	pool.AddCert(readCert(t, filepath.Join(dir, "ca.crt")))
	for _, tt := range []struct {
		file  string
		name  string
		usage x509.ExtKeyUsage
	}{
		{"nats-server.crt", "nats-2", x509.ExtKeyUsageServerAuth},
		{"nats-server.crt", "127.0.0.1", x509.ExtKeyUsageClientAuth}, // cluster routes
		{"badge-grpc.crt", "badge", x509.ExtKeyUsageServerAuth},
		{"nats-dcingest.crt", "", x509.ExtKeyUsageClientAuth},
		{"grpc-admin.crt", "", x509.ExtKeyUsageClientAuth},
		{"intake.crt", "dcingest", x509.ExtKeyUsageServerAuth},
		{"intake.crt", "endpointingest", x509.ExtKeyUsageServerAuth},
		{"intake.crt", "127.0.0.1", x509.ExtKeyUsageServerAuth}, // the containers' health checks
	} {
		c := readCert(t, filepath.Join(dir, tt.file))
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: tt.name, KeyUsages: []x509.ExtKeyUsage{tt.usage}}); err != nil {
			t.Errorf("%s for %q: %v", tt.file, tt.name, err)
		}
	}
	if c := readCert(t, filepath.Join(dir, "grpc-admin.crt")); c.Subject.CommonName != grpcAdminCN {
		t.Errorf("grpc-admin.crt common name %q, want %q", c.Subject.CommonName, grpcAdminCN)
	}
	if c := readCert(t, filepath.Join(dir, "nats-dcingest.crt")); len(c.DNSNames) != 0 {
		t.Errorf("a client certificate names hosts %v: it could pass for a cluster peer", c.DNSNames)
	}
	for _, f := range []string{"ca.key", "nats-server.key", "nats-admin.password", "nats-passwords.conf", "adjoin.env",
		"intake.key", "intake-tokens", "intake-dc-sensor.token"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, st.Mode().Perm())
		}
	}
	env, _ := os.ReadFile(filepath.Join(dir, "adjoin.env"))
	password, _ := os.ReadFile(filepath.Join(dir, "nats-correlator.password"))
	if !strings.Contains(string(env), "ADJOIN_NATS_CORRELATOR_PASSWORD="+strings.TrimSpace(string(password))+"\n") {
		t.Errorf("adjoin.env does not hold the correlator's password:\n%s", env)
	}

	// The intake's tokens file is what the ingestors read, and names each sender's token.
	tokens, err := authn.ReadTokens(filepath.Join(dir, "intake-tokens"), authn.SenderName)
	if err != nil {
		t.Fatal(err)
	}
	dcToken, _ := os.ReadFile(filepath.Join(dir, "intake-dc-sensor.token"))
	if name, ok := tokens.Lookup(strings.TrimSpace(string(dcToken))); !ok || name != "dc-sensor" || tokens.Len() != 2 {
		t.Errorf("intake-tokens: dc-sensor's token gives %q %v; %d tokens", name, ok, tokens.Len())
	}

	if out, code := run(); code == 0 || !strings.Contains(out, "--force") {
		t.Errorf("second run: exit %d, %s; want a refusal naming --force", code, out)
	}
	ca, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if out, code := run("--rotate-passwords"); code != 0 {
		t.Fatalf("--rotate-passwords: exit %d: %s", code, out)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); string(again) != string(ca) {
		t.Error("--rotate-passwords replaced the CA")
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "nats-correlator.password")); string(again) == string(password) {
		t.Error("--rotate-passwords kept the correlator's password")
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "intake-dc-sensor.token")); string(again) == string(dcToken) {
		t.Error("--rotate-passwords kept dc-sensor's intake token")
	}
	if out, code := run("--force", "--mode", "0644"); code != 0 {
		t.Fatalf("--force: exit %d: %s", code, out)
	}
	if st, _ := os.Stat(filepath.Join(dir, "ca.key")); st.Mode().Perm() != 0o644 {
		t.Errorf("ca.key mode %v after --mode 0644", st.Mode().Perm())
	}
	if out, code := run("--force", "--mode", "0777x"); code == 0 || !strings.Contains(out, "mode") {
		t.Errorf("bad --mode: exit %d, %s; want an error naming mode", code, out)
	}
}
