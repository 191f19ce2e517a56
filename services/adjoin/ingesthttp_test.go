package adjoin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/authn"
	"github.com/adjoin/adjoin/pkg/authn/authntest"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
	"github.com/adjoin/adjoin/services/dcingest"
)

// TestIngestToSecuredIntake runs the DC ingestor with TLS and sender tokens on a non-loopback
// setting's terms (the listener is loopback, the checks are the production ones) and replays
// S1 through `adjoin ingest dc --url`: without a token the intake refuses it with 401 and
// stores nothing; with the sender's token file and the CA every line is stored.
func TestIngestToSecuredIntake(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	pki := authntest.New(t)
	pki.Write(t, "tokens", []byte("dc-sensor tok-dc-sensor-0123456789\n"))
	tokenFile := pki.Write(t, "dc-sensor.token", []byte("tok-dc-sensor-0123456789\n"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := dcingest.DefaultConfig()
	cfg.NATS.URL, cfg.NATS.Replicas = srv.ClientURL(), 1
	cfg.HTTP.Listener, cfg.HTTP.ShutdownGrace = ln, time.Second
	cfg.HTTP.Auth = authn.Settings{TLSCert: pki.ServerCert, TLSKey: pki.ServerKey, TokensFile: filepath.Join(pki.Dir, "tokens")}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dcingest.Run(ctx, cfg, zap.NewNop()) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("dcingest did not stop")
		}
	})
	url := "https://" + ln.Addr().String()
	tc, err := authn.ClientTLS(pki.CA, "", "")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second}
	testkit.Eventually(t, 20*time.Second, func() error {
		resp, err := client.Get(url + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		return nil
	})
	s1 := filepath.Join(sample.Dir(t), "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json")
	lines := strings.Count(strings.TrimSpace(string(sample.Read(t, "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json"))), "\n") + 1

	tests := []struct {
		name    string
		args    []string
		wantErr string // in stderr; "" for success
	}{
		{"no token", []string{"--tls-ca", pki.CA}, "401"},
		{"no CA", []string{"--token-file", tokenFile}, "certificate"},
		{"token over clear http to a remote host", []string{"--url", "http://ingest.example:8081", "--token-file", tokenFile}, "clear text"},
		{"sender token and CA", []string{"--tls-ca", pki.CA, "--token-file", tokenFile}, ""},
	}
	for _, tt := range tests {
		args := append([]string{"ingest", "dc", "--quiet", "--url", url}, tt.args...)
		_, errOut, code := run(t, append(args, s1)...)
		if tt.wantErr != "" {
			if code == 0 || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("%s: exit %d, %s; want an error with %q", tt.name, code, errOut, tt.wantErr)
			}
			if n := streamCount(t, srv, natsx.StreamDCEvents); n != 0 {
				t.Fatalf("%s: DC_EVENTS holds %d events", tt.name, n)
			}
			continue
		}
		if code != 0 || !strings.Contains(errOut, fmt.Sprintf("posted %d events", lines)) {
			t.Errorf("%s: exit %d, %s; want %d events posted", tt.name, code, errOut, lines)
		}
	}
	if n := streamCount(t, srv, natsx.StreamDCEvents); n != uint64(lines) {
		t.Errorf("DC_EVENTS holds %d events, want %d", n, lines)
	}
}

func streamCount(t *testing.T, srv *natstest.Server, stream string) uint64 {
	t.Helper()
	s, err := srv.JS.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestIntakePosterCountsEveryRefusedLine: an intake answer lists its first
// intake.MaxRejectedListed refused lines and counts them all, per batch. The poster sums the
// counts, so that the summary says how many lines were refused, and keeps no more listed lines
// than one answer would, however many batches the file takes.
func TestIntakePosterCountsEveryRefusedLine(t *testing.T) {
	t.Parallel()
	const batches, refusedPerBatch = 5, 150
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp := intake.Response{Accepted: 1000 - refusedPerBatch, RejectedTotal: refusedPerBatch, RejectedTruncated: true}
		for i := range intake.MaxRejectedListed {
			resp.Rejected = append(resp.Rejected, intake.Rejected{Line: i + 1, Reason: "parse", Error: "bad"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(srv.Close)
	p, err := newIntakePoster(srv.URL, "", "", "", "", "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	var lines atomic.Int64
	got, err := p.post(context.Background(), strings.NewReader(strings.Repeat("{}\n", batches*p.batch)), &lines)
	if err != nil {
		t.Fatal(err)
	}
	if got.RejectedTotal != batches*refusedPerBatch {
		t.Errorf("RejectedTotal %d, want %d", got.RejectedTotal, batches*refusedPerBatch)
	}
	if len(got.Rejected) != intake.MaxRejectedListed || !got.RejectedTruncated {
		t.Errorf("%d refused lines listed (truncated %v), want %d and truncated", len(got.Rejected), got.RejectedTruncated, intake.MaxRejectedListed)
	}
	if lines.Load() != int64(batches*p.batch) {
		t.Errorf("%d lines counted, want %d", lines.Load(), batches*p.batch)
	}

	file := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(file, []byte(strings.Repeat("{}\n", batches*p.batch)), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	if err := postFiles(context.Background(), p, []string{file}, true, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d lines refused", batches*refusedPerBatch); !strings.Contains(stderr.String(), want) {
		t.Errorf("summary %q, want %q", stderr.String(), want)
	}
}

// TestIntakePosterLineBound: a line up to maxLine is posted; one past it is refused, naming
// its number, before it is all read, and the lines before it are posted first.
func TestIntakePosterLineBound(t *testing.T) {
	t.Parallel()
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		n := strings.Count(string(b), "\n")
		received.Add(int64(n))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(intake.Response{Accepted: n})
	}))
	t.Cleanup(srv.Close)
	p, err := newIntakePoster(srv.URL, "", "", "", "", "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	p.maxLine = 200 << 10 // over the poster's 64 KiB read buffer, so a line takes several reads
	atLimit := strings.Repeat("a", p.maxLine)
	tests := []struct {
		name      string
		body      string
		readErr   error // returned after body, instead of the end
		wantLines int64
		wantErr   string
	}{
		{"line at the limit", "{}\n" + atLimit + "\n{}\n", nil, 3, ""},
		{"line at the limit, no final newline", "{}\n" + atLimit, nil, 2, ""},
		{"line past the limit", "{}\n{}\n" + atLimit + "b\n{}\n", nil, 2, "line 3: longer than"},
		{"no newline at all", atLimit + atLimit, nil, 0, "line 1: longer than"},
		// The lines read before the error are sent; the incomplete one is not.
		{"read error mid-line", "{}\n{}\n{\"half", errors.New("disk gone"), 2, "line 3: disk gone"},
	}
	for _, tt := range tests {
		received.Store(0)
		var lines atomic.Int64
		var r io.Reader = strings.NewReader(tt.body)
		if tt.readErr != nil {
			r = io.MultiReader(r, &failingReader{tt.readErr})
		}
		_, err := p.post(context.Background(), r, &lines)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: %v, want error %q", tt.name, err, tt.wantErr)
		}
		if received.Load() != tt.wantLines || lines.Load() != tt.wantLines {
			t.Errorf("%s: intake received %d lines, %d counted, want %d", tt.name, received.Load(), lines.Load(), tt.wantLines)
		}
	}
}

// failingReader fails every read with err.
type failingReader struct{ err error }

func (f *failingReader) Read([]byte) (int, error) { return 0, f.err }
