package authn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/authn"
	"github.com/adjoin/adjoin/pkg/authn/authntest"
)

func TestParseTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string
		lookup  map[string]string // token -> name; "" means unknown
		wantErr string
	}{
		{"senders", "# senders\ndc-sensor-1 tok-a\n\n  endpoint.agent tok-b  \n", map[string]string{"tok-a": "dc-sensor-1", "tok-b": "endpoint.agent", "tok": "", "": ""}, ""},
		{"a sender with two tokens (rotation)", "dc tok-old\ndc tok-new\n", map[string]string{"tok-old": "dc", "tok-new": "dc"}, ""},
		{"one token twice", "a same\nb same\n", nil, "line 2: the token of line 1 again"},
		{"name without token", "lonely\n", nil, `line 1: want "<name> <token>"`},
		{"three fields", "a b c\n", nil, `line 1: want "<name> <token>"`},
		{"bad sender name", "dc/1 tok\n", nil, "line 1: sender name"},
		{"long sender name", strings.Repeat("x", 65) + " tok\n", nil, "line 1: sender name"},
		{"no tokens", "# nobody yet\n", nil, "no tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tokens, err := authn.ParseTokens(strings.NewReader(tt.file), "f", authn.SenderName)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "tokens-file f") {
					t.Fatalf("ParseTokens = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for token, want := range tt.lookup {
				if got, ok := tokens.Lookup(token); got != want || ok != (want != "") {
					t.Errorf("Lookup(%q) = %q, %v; want %q", token, got, ok, want)
				}
			}
		})
	}
}

func TestCheckListen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings authn.Settings
		addr     string
		wantErr  bool
	}{
		{"all interfaces, nothing set", authn.Settings{}, ":8081", true},
		{"0.0.0.0, TLS only", authn.Settings{TLSCert: "c", TLSKey: "k"}, "0.0.0.0:8081", true},
		{"a LAN address", authn.Settings{}, "10.1.2.3:8081", true},
		{"a host name", authn.Settings{}, "ingest.corp.example:8081", true},
		{"ipv6 any", authn.Settings{}, "[::]:8081", true},
		{"127.0.0.1", authn.Settings{}, "127.0.0.1:8081", false},
		{"127.0.0.2", authn.Settings{}, "127.0.0.2:0", false},
		{"localhost", authn.Settings{}, "localhost:8081", false},
		{"ipv6 loopback", authn.Settings{}, "[::1]:8081", false},
		{"tokens", authn.Settings{TokensFile: "t"}, ":8081", false},
		{"mTLS", authn.Settings{TLSCert: "c", TLSKey: "k", TLSClientCA: "ca"}, ":8081", false},
		{"insecure", authn.Settings{Insecure: true}, ":8081", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.settings.CheckListen("http-addr", tt.addr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CheckListen(%q) = %v, want error %v", tt.addr, err, tt.wantErr)
			}
			// The refusal tells the operator every way out.
			for _, flag := range []string{"http-addr", "--tokens-file", "--tls-client-ca", "127.0.0.1", "--insecure"} {
				if err != nil && !strings.Contains(err.Error(), flag) {
					t.Errorf("refusal %q does not name %s", err, flag)
				}
			}
		})
	}
}

// TestGuard serves a handler behind tokens on a real TLS listener: only a listed token gets
// through, with its sender's name; probes stay open; removing a line cuts the sender off at the
// next reload, and a broken file keeps the tokens in force.
func TestGuard(t *testing.T) {
	t.Parallel()
	pki := authntest.New(t)
	tokensPath := pki.Write(t, "tokens", []byte("dc-sensor tok-dc\nedr tok-edr\n"))
	tokens, err := authn.OpenTokenFile(tokensPath, authn.SenderName)
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]int{}
	reached := 0
	g := &authn.Guard{Tokens: tokens, Open: []string{"/healthz"}, Refused: func(r string) { refused[r]++ }}
	srv := httptest.NewUnstartedServer(g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		fmt.Fprintf(w, "%s|%s", authn.Sender(r.Context()), r.RemoteAddr)
	})))
	tc, err := authn.Settings{TLSCert: pki.ServerCert, TLSKey: pki.ServerKey}.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = tc
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ctc, err := authn.ClientTLS(pki.CA, "", "")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: ctc}, Timeout: 10 * time.Second}
	do := func(path, auth string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader("{}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			var e struct{ Error string }
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || !strings.HasPrefix(e.Error, "unauthorized: ") {
				t.Errorf("401 body: %v %+v", err, e)
			}
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			return resp.StatusCode, ""
		}
		return resp.StatusCode, readAll(t, resp)
	}
	tests := []struct {
		name, path, auth string
		want             int
		wantSender       string
	}{
		{"no header", "/v1/events", "", http.StatusUnauthorized, ""},
		{"unknown token", "/v1/events", "Bearer nope", http.StatusUnauthorized, ""},
		{"basic scheme", "/v1/events", "Basic tok-dc", http.StatusUnauthorized, ""},
		{"prefix of a token", "/v1/events", "Bearer tok-d", http.StatusUnauthorized, ""},
		{"dc sensor", "/v1/events", "Bearer tok-dc", http.StatusOK, "dc-sensor"},
		{"scheme in lower case", "/v1/events", "bearer tok-edr", http.StatusOK, "edr"},
		{"open path", "/healthz", "", http.StatusOK, ""},
	}
	for _, tt := range tests {
		code, body := do(tt.path, tt.auth)
		if code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, code, tt.want)
			continue
		}
		if code == http.StatusOK {
			sender, remote, _ := strings.Cut(body, "|")
			if sender != tt.wantSender || (sender != "" && !strings.HasPrefix(remote, sender+"@127.0.0.1:")) {
				t.Errorf("%s: handler saw sender %q, remote %q", tt.name, sender, remote)
			}
		}
	}
	if refused[authn.ReasonMissing] != 2 || refused[authn.ReasonInvalid] != 2 || reached != 3 {
		t.Errorf("refused %v, handler reached %d times; want 2 missing, 2 invalid, 3 reached", refused, reached)
	}

	// Cut edr off; a broken edit afterwards changes nothing.
	pki.Write(t, "tokens", []byte("dc-sensor tok-dc\n"))
	if changed, err := tokens.Reload(); !changed || err != nil {
		t.Fatalf("Reload = %v, %v", changed, err)
	}
	if code, _ := do("/v1/events", "Bearer tok-edr"); code != http.StatusUnauthorized {
		t.Errorf("edr after its line was removed: %d, want 401", code)
	}
	pki.Write(t, "tokens", []byte("dc-sensor\n"))
	if _, err := tokens.Reload(); err == nil {
		t.Error("Reload of a broken file: no error")
	}
	if code, _ := do("/v1/events", "Bearer tok-dc"); code != http.StatusOK {
		t.Errorf("dc-sensor after a broken edit: %d, want 200 (the tokens read before stay)", code)
	}
}

// TestGuardClientCerts: with mTLS and no tokens, the verified certificate's common name is the
// sender; a client without a certificate does not get past the handshake.
func TestGuardClientCerts(t *testing.T) {
	t.Parallel()
	pki := authntest.New(t)
	g := &authn.Guard{ClientCerts: true}
	srv := httptest.NewUnstartedServer(g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, authn.Sender(r.Context()))
	})))
	tc, err := authn.Settings{TLSCert: pki.ServerCert, TLSKey: pki.ServerKey, TLSClientCA: pki.CA}.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = tc
	srv.StartTLS()
	t.Cleanup(srv.Close)
	certFile, keyFile := pki.Issue(t, "winlogbeat-dc1", false)
	for _, tt := range []struct {
		name       string
		cert, key  string
		wantSender string
	}{{"with a certificate", certFile, keyFile, "winlogbeat-dc1"}, {"without", "", "", ""}} {
		ctc, err := authn.ClientTLS(pki.CA, tt.cert, tt.key)
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: ctc}, Timeout: 10 * time.Second}
		resp, err := client.Get(srv.URL + "/v1/events")
		if tt.wantSender == "" {
			if err == nil {
				resp.Body.Close()
				t.Errorf("%s: answered %s, want a failed handshake", tt.name, resp.Status)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := readAll(t, resp); got != tt.wantSender {
			t.Errorf("%s: sender %q, want %q", tt.name, got, tt.wantSender)
		}
		resp.Body.Close()
	}
}

// TestTokenFileWatch: an edit is picked up by the poll, without a restart.
func TestTokenFileWatch(t *testing.T) {
	t.Parallel()
	pki := authntest.New(t)
	path := pki.Write(t, "tokens", []byte("a tok-a\n"))
	f, err := authn.OpenTokenFile(path, authn.SenderName)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Watch(ctx, 10*time.Millisecond, zap.NewNop()) }()
	t.Cleanup(func() { cancel(); <-done })
	pki.Write(t, "tokens", []byte("b tok-b\n"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, oldOK := f.Lookup("tok-a")
		name, newOK := f.Lookup("tok-b")
		if !oldOK && newOK && name == "b" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tokens not reloaded: tok-a %v, tok-b %v", oldOK, newOK)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	pki := authntest.New(t)
	missing := pki.Dir + "/missing.pem"
	tests := []struct {
		name     string
		settings authn.Settings
		wantErr  string
	}{
		{"nothing", authn.Settings{}, ""},
		{"tls", authn.Settings{TLSCert: pki.ServerCert, TLSKey: pki.ServerKey}, ""},
		{"cert without key", authn.Settings{TLSCert: pki.ServerCert}, "tls-cert and tls-key"},
		{"client CA without cert", authn.Settings{TLSClientCA: pki.CA}, "tls-client-ca"},
		{"missing tokens file", authn.Settings{TokensFile: missing}, "tokens-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.settings.Validate()
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.HasPrefix(err.Error(), tt.wantErr)) {
				t.Errorf("Validate = %v, want %q", err, tt.wantErr)
			}
			if tt.name == "missing tokens file" && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Validate = %v, want os.ErrNotExist", err)
			}
		})
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
