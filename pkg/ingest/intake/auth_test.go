package intake

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/authn"
	"github.com/adjoin/adjoin/pkg/authn/authntest"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// TestServeAuthenticated runs the intake over TLS with sender tokens on a real listener and
// JetStream server: requests without a valid token are answered 401 and store nothing, the
// refusals are counted, probes and metrics stay open, and a sender's events carry its name
// in their origin.
func TestServeAuthenticated(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	pki := authntest.New(t)
	tokens := pki.Write(t, "tokens", []byte("dc-sensor-1 s3cret-dc\n"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultServiceConfig("")
	cfg.Listener, cfg.ShutdownGrace = ln, time.Second
	cfg.Auth = authn.Settings{TLSCert: pki.ServerCert, TLSKey: pki.ServerKey, TokensFile: tokens}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, srv.JS, cfg, Pipeline{Service: "dcingest", SubjectPrefix: natsx.SubjectDCEvents, Stream: natsx.StreamDCEvents,
			Ready: func(context.Context) error { return nil }, Metrics: metrics.New()}, zaptest.NewLogger(t))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not stop")
		}
	})
	tc, err := authn.ClientTLS(pki.CA, "", "")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
	base := "https://" + ln.Addr().String()
	line := s1Lines(t)[0].raw + "\n"
	do := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}

	for _, tt := range []struct {
		name, token string
		want        int
	}{{"no token", "", http.StatusUnauthorized}, {"wrong token", "s3cret-dx", http.StatusUnauthorized}} {
		code, body := do(http.MethodPost, "/v1/events", tt.token, line)
		var r Response
		if code != tt.want || json.Unmarshal([]byte(body), &r) != nil || !strings.Contains(r.Error, "unauthorized") {
			t.Errorf("%s: %d %s, want %d with a JSON error", tt.name, code, body, tt.want)
		}
	}
	if n := len(storedMsgs(t, srv.JS, natsx.StreamDCEvents)); n != 0 {
		t.Fatalf("refused requests stored %d events", n)
	}
	if code, body := do(http.MethodGet, "/readyz", "", ""); code != http.StatusOK {
		t.Errorf("/readyz without a token: %d %s", code, body)
	}
	code, body := do(http.MethodGet, "/metrics", "", "")
	for _, want := range []string{`adjoin_intake_unauthorized_total{reason="missing-token",service="dcingest"} 1`,
		`adjoin_intake_unauthorized_total{reason="invalid-token",service="dcingest"} 1`} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics without a token: %d, want a line %s", code, want)
		}
	}

	code, body = do(http.MethodPost, "/v1/events", "s3cret-dc", line)
	if code != http.StatusOK {
		t.Fatalf("with the token: %d %s", code, body)
	}
	msgs := storedMsgs(t, srv.JS, natsx.StreamDCEvents)
	if len(msgs) != 1 {
		t.Fatalf("stored %d events, want 1", len(msgs))
	}
	var ev adjoinv1.Event
	if err := proto.Unmarshal(msgs[0].Data, &ev); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ev.GetOrigin(), "http:dc-sensor-1@127.0.0.1:") {
		t.Errorf("origin %q does not name the sender", ev.GetOrigin())
	}
}

// TestServiceConfigExposure: the intake refuses to listen beyond loopback without
// authentication unless --insecure says so, and syslog, which cannot authenticate, likewise.
func TestServiceConfigExposure(t *testing.T) {
	t.Parallel()
	pki := authntest.New(t)
	tokens := pki.Write(t, "tokens", []byte("a tok\n"))
	tests := []struct {
		name    string
		cfg     ServiceConfig
		wantErr string
	}{
		{"default address, nothing set", ServiceConfig{HTTPAddr: ":8081"}, "http-addr"},
		{"loopback", ServiceConfig{HTTPAddr: "127.0.0.1:8081"}, ""},
		{"tokens", ServiceConfig{HTTPAddr: ":8081", Auth: authn.Settings{TokensFile: tokens}}, ""},
		{"mTLS", ServiceConfig{HTTPAddr: ":8081", Auth: authn.Settings{TLSCert: pki.ServerCert, TLSKey: pki.ServerKey, TLSClientCA: pki.CA}}, ""},
		{"insecure", ServiceConfig{HTTPAddr: ":8081", Auth: authn.Settings{Insecure: true}}, ""},
		{"syslog beyond loopback", ServiceConfig{HTTPAddr: "127.0.0.1:8081", SyslogTCPAddr: ":5514"}, "syslog-tcp-addr"},
		{"syslog beyond loopback with tokens", ServiceConfig{HTTPAddr: ":8081", SyslogUDPAddr: "0.0.0.0:514", Auth: authn.Settings{TokensFile: tokens}}, "syslog-udp-addr"},
		{"syslog on loopback", ServiceConfig{HTTPAddr: "127.0.0.1:8081", SyslogTCPAddr: "127.0.0.1:5514"}, ""},
		{"syslog, insecure", ServiceConfig{HTTPAddr: ":8081", SyslogTCPAddr: ":5514", Auth: authn.Settings{Insecure: true}}, ""},
		{"cert without key", ServiceConfig{HTTPAddr: "127.0.0.1:8081", Auth: authn.Settings{TLSCert: pki.ServerCert}}, "tls-cert and tls-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultServiceConfig("") // the settings of this table over the defaults
			cfg.HTTPAddr, cfg.SyslogTCPAddr, cfg.SyslogUDPAddr, cfg.Auth = tt.cfg.HTTPAddr, tt.cfg.SyslogTCPAddr, tt.cfg.SyslogUDPAddr, tt.cfg.Auth
			err := cfg.Validate()
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.HasPrefix(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
			if err != nil && tt.wantErr != "tls-cert and tls-key" && !strings.Contains(err.Error(), "--insecure") {
				t.Errorf("refusal %q does not name --insecure", err)
			}
		})
	}
}
