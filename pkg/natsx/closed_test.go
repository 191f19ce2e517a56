package natsx_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/adjoin/adjoin/pkg/httpx"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// The reported failure, replayed on a real server with its default limits: a KV key of 5,000
// bytes puts the request's control line over 4 KiB, the server closes the connection and
// nats.go never rebuilds it. WatchClosed must end the service with ErrConnClosed and /healthz
// must say so; while the connection is up, or once the service's own context ended, neither
// reports a failure.
func TestWatchClosed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		poison  bool // send the oversized key
		cancel  bool // end the service's context first
		wantErr error
		want    int // /healthz status
	}{
		{name: "server closes the connection", poison: true, wantErr: natsx.ErrConnClosed, want: http.StatusServiceUnavailable},
		{name: "service stops", cancel: true, want: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := natstest.Start(t)
			nc, err := natsx.Connect(context.Background(), natsx.ConnectOptions{URL: srv.ClientURL(), Name: "adjoin-test"}, zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			health := httptest.NewServer(httpx.NewMux(natsx.Live(nc), func(context.Context) error { return nil }, nil))
			t.Cleanup(health.Close)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- natsx.WatchClosed(ctx, nc) }()

			if tt.poison {
				js, err := jetstream.New(nc)
				if err != nil {
					t.Fatal(err)
				}
				kv, err := js.KeyValue(context.Background(), natsx.BucketDevices)
				if err != nil {
					t.Fatal(err)
				}
				gctx, gcancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, _ = kv.Get(gctx, "host."+strings.Repeat("h", 5000)) // fails: the connection is gone
				gcancel()
			}
			if tt.cancel {
				cancel()
			}
			select {
			case err := <-done:
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
					t.Fatalf("WatchClosed = %v, want %v", err, tt.wantErr)
				}
				if err != nil && !strings.Contains(err.Error(), "control line") {
					t.Errorf("WatchClosed error %q does not carry the server's reason", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("WatchClosed still waiting after 10s")
			}

			res, err := http.Get(health.URL + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body map[string]string
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.want {
				t.Errorf("/healthz = %d %v, want %d", res.StatusCode, body, tt.want)
			}
			if tt.want != http.StatusOK && !strings.Contains(body["error"], natsx.ErrConnClosed.Error()) {
				t.Errorf("/healthz error %q does not say the connection closed for good", body["error"])
			}
		})
	}
}
