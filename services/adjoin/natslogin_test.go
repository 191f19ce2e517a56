package adjoin

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/testkit"
)

// TestNATSLoginNeedsPasswordCertificateAndCA: the shipped configuration takes a client only
// with TLS verified against the lab CA, a client certificate signed by it, and the password.
func TestNATSLoginNeedsPasswordCertificateAndCA(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server with TLS and bcrypt users")
	}
	srv := startSecureNATS(t)
	tests := []struct {
		name    string
		change  func(*natsx.ConnectOptions)
		wantErr string
	}{
		{name: "everything given", change: func(*natsx.ConnectOptions) {}},
		{name: "another user's password", change: func(o *natsx.ConnectOptions) {
			o.PasswordFile = filepath.Join(srv.secrets, "nats-badge.password")
		}, wantErr: "authorization violation"},
		{name: "no password", change: func(o *natsx.ConnectOptions) { o.PasswordFile = "" }, wantErr: "authorization violation"},
		{name: "no client certificate", change: func(o *natsx.ConnectOptions) { o.CertFile, o.KeyFile = "", "" },
			// TLS 1.3: the client learns of the refusal on its first read or write
			wantErr: "certificate required|closed by remote after tls handshake"},
		{name: "no CA", change: func(o *natsx.ConnectOptions) { o.CAFile = "" }, wantErr: "unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := srv.settings("dcingest").ConnectOptions
			tt.change(&o)
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			nc, err := natsx.Connect(ctx, o, zap.NewNop())
			if err == nil {
				nc.Close()
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Connect: %v", err)
			case tt.wantErr != "" && (err == nil || !regexp.MustCompile(tt.wantErr).MatchString(strings.ToLower(err.Error()))):
				t.Fatalf("Connect = %v, want an error mentioning %q", err, tt.wantErr)

			}
		})
	}
}

// TestServiceWaitsForProvision: a service user may not create streams, so Setup on an empty
// server says what is missing and waits; once the admin provisioned, it carries on.
func TestServiceWaitsForProvision(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server with TLS and bcrypt users")
	}
	srv := startSecureNATS(t)
	core, logs := observer.New(zap.InfoLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		nc, _, err := natsx.Setup(ctx, srv.settings("dcingest").ConnectOptions, 1, zap.New(core))
		if err == nil {
			nc.Close()
		}
		done <- err
	}()
	testkit.Eventually(t, 20*time.Second, func() error {
		if logs.FilterMessageSnippet("may not create them").Len() == 0 {
			return errors.New("no log saying the user may not create the topology")
		}
		return nil
	})
	e := logs.FilterMessageSnippet("may not create them").All()[0]
	if missing, _ := e.ContextMap()["missing"].([]any); len(missing) != 16 || missing[0] != "stream DC_EVENTS" {
		t.Errorf("logged missing = %v, want the 7 streams, 7 buckets and the 2 object stores", e.ContextMap()["missing"])
	}
	if user := e.ContextMap()["nats_user"]; user != "dcingest" {
		t.Errorf("logged nats_user = %v, want dcingest", user)
	}
	select {
	case err := <-done:
		t.Fatalf("Setup returned before provisioning: %v", err)
	default:
	}
	srv.provision(t)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Setup after provisioning: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Setup still waiting 20s after provisioning")
	}
}

// TestNATSPasswordRotation follows docs/security.md: new passwords from `adjoin secrets
// --rotate-passwords`, then a configuration reload. The old password stops working, and a
// running service, which reads its password file again when it reconnects, carries on.
func TestNATSPasswordRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server with TLS and bcrypt users")
	}
	srv := startSecureNATS(t)
	srv.provision(t)
	u := srv.connect(t, "dcingest")
	old := srv.settings("dcingest").ConnectOptions
	oldPassword, err := natsx.ReadPassword(old.PasswordFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteSecrets(SecretsOptions{Dir: srv.secrets, RotatePasswords: true}); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(filepath.Join(srv.dir, "nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.Port = srv.opts.Host, srv.Addr().(*net.TCPAddr).Port
	opts.HTTPPort, opts.StoreDir, opts.NoSigs = srv.opts.HTTPPort, srv.opts.StoreDir, true
	if err := srv.ReloadOptions(opts); err != nil {
		t.Fatalf("reload: %v", err)
	}

	old.PasswordFile, old.Password = "", oldPassword
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if nc, err := natsx.Connect(ctx, old, zap.NewNop()); err == nil {
		nc.Close()
		t.Fatal("the old password still works after the reload")
	}
	testkit.Eventually(t, 15*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return publishOp("events.dc.security.4624")(ctx, u)
	})
	t.Logf("reconnects of the running client: %d", u.nc.Stats().Reconnects)
}
