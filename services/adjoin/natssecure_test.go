package adjoin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// shippedNATS is the directory of the shipped NATS configuration.
const shippedNATS = "../../deploy/nats"

// secureNATS is a server started from the shipped configuration with fresh secrets.
type secureNATS struct {
	*server.Server
	dir, secrets string
	opts         *server.Options
	log          *natstest.ServerLog
}

// stageNATS copies the shipped configuration into a temporary directory laid out as in
// production (configuration beside a secrets/ directory written by WriteSecrets), changing
// only the absolute /etc/nats/secrets/ paths into the temporary ones.
func stageNATS(t *testing.T) (dir, secrets string) {
	t.Helper()
	dir = t.TempDir()
	secrets = filepath.Join(dir, "secrets")
	if _, err := WriteSecrets(SecretsOptions{Dir: secrets}); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(shippedNATS, "*.conf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no shipped configuration in %s: %v", shippedNATS, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "/etc/nats/secrets/", secrets+"/")
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, secrets
}

// startSecureNATS starts the shipped single-server configuration (nats.conf); nothing is
// provisioned yet.
func startSecureNATS(t *testing.T) *secureNATS {
	t.Helper()
	dir, secrets := stageNATS(t)
	log := &natstest.ServerLog{}
	opts := natstest.ConfigOptions(t, filepath.Join(dir, "nats.conf"))
	s := natstest.StartOptions(t, opts, log)
	return &secureNATS{Server: s, dir: dir, secrets: secrets, opts: opts, log: log}
}

// settings are the NATS settings a deployment gives user: its password file, the CA and its
// client certificate.
func (s *secureNATS) settings(user string) natsx.Settings {
	f := func(name string) string { return filepath.Join(s.secrets, name) }
	return natsx.Settings{Replicas: 1, ConnectOptions: natsx.ConnectOptions{
		URL: s.ClientURL(), Name: "test-" + user, User: user, PasswordFile: f("nats-" + user + ".password"),
		CAFile: f("ca.crt"), CertFile: f("nats-" + user + ".crt"), KeyFile: f("nats-" + user + ".key"),
	}}
}

// adminArgs are the flags of `adjoin provision` as the admin user.
func (s *secureNATS) adminArgs() []string {
	o := s.settings("admin")
	return []string{"--nats-url", o.URL, "--nats-user", "admin", "--nats-password-file", o.PasswordFile,
		"--nats-ca-file", o.CAFile, "--nats-cert-file", o.CertFile, "--nats-key-file", o.KeyFile, "--timeout", "30s"}
}

// provision runs `adjoin provision` as admin.
func (s *secureNATS) provision(t *testing.T) {
	t.Helper()
	var out, errOut strings.Builder
	if code := Main(context.Background(), append([]string{"provision"}, s.adminArgs()...), &out, &errOut); code != 0 {
		t.Fatalf("adjoin provision: exit %d: %s%s", code, out.String(), errOut.String())
	}
}

// natsUser is a connection of one user, with what its client logged.
type natsUser struct {
	name string
	nc   *nats.Conn
	js   jetstream.JetStream
	logs *observer.ObservedLogs
}

func (s *secureNATS) connect(t *testing.T, user string) *natsUser {
	t.Helper()
	core, logs := observer.New(zap.WarnLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := natsx.Connect(ctx, s.settings(user).ConnectOptions, zap.New(core))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &natsUser{name: user, nc: nc, js: js, logs: logs}
}

// violations are the permissions violations the server reported to a client, lower-cased.
func violations(logs *observer.ObservedLogs) []string {
	var out []string
	for _, e := range logs.All() {
		if msg, ok := e.ContextMap()["err"].(string); ok && strings.Contains(strings.ToLower(msg), "permissions violation") {
			out = append(out, strings.ToLower(msg))
		}
	}
	return out
}

// refused reports whether the server refused subject to this user (see natsCheck).
func (u *natsUser) refused(subject string) bool {
	for _, v := range violations(u.logs) {
		if matchesViolation(v, subject) {
			return true
		}
	}
	return false
}

// runDenied runs op and returns once the server reported a permissions violation on subject,
// or false after 5s.
func (u *natsUser) runDenied(subject string, op natsOp) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	done := make(chan struct{})
	go func() { defer close(done); _ = op(ctx, u) }()
	seen := false
	for !seen && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		seen = u.refused(subject)
	}
	cancel()
	<-done
	return seen
}
