package endpointingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/adjoin/adjoin/pkg/entity"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
	"github.com/adjoin/adjoin/services/endpointingest"
)

// mimikatzFile is a real three-line Sysmon recording: mimikatz started, then reading LSASS.
const mimikatzFile = "evtx-to-mitre-attack/ndjson/ID10-Mimikatz LSASS process dump.json"

// running is an endpoint ingestor run in-process against a real JetStream server.
type running struct {
	srv  *server.Server
	opts *server.Options
	nc   *nats.Conn
	js   jetstream.JetStream
	url  string // http://addr
	done chan error
}

func start(t *testing.T) *running {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true}
	srv := natstest.StartOptions(t, opts, nil)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := natsx.Provision(ctx, js, natsx.NewTopology(1)); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := endpointingest.DefaultConfig()
	cfg.NATS.URL, cfg.HTTP.Listener, cfg.HTTP.ShutdownGrace = srv.ClientURL(), ln, 5*time.Second
	r := &running{srv: srv, opts: opts, nc: nc, js: js, url: "http://" + ln.Addr().String(), done: make(chan error, 1)}
	go func() { r.done <- endpointingest.Run(ctx, cfg, zaptest.NewLogger(t)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			t.Error("endpoint ingestor still running 15s after its context ended")
		}
	})
	waitFor(t, "ready", func() bool { return r.status(t, "/readyz") == http.StatusOK })
	return r
}

// waitFor polls cond for at most 15 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not %s after 15s", what)
		}
	}
}

func (r *running) status(t *testing.T, path string) int {
	t.Helper()
	res, err := http.Get(r.url + path)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func (r *running) post(t *testing.T, body []byte) (int, intake.Response) {
	t.Helper()
	res, err := http.Post(r.url+"/v1/events", "application/x-ndjson", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var resp intake.Response
	if err := json.NewDecoder(res.Body).Decode(&resp); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, resp
}

func (r *running) alerts(t *testing.T) uint64 {
	t.Helper()
	st, err := r.js.Stream(context.Background(), natsx.StreamAlerts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// withHost is a real line with its Computer replaced.
func withHost(t *testing.T, line []byte, host string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	m["Computer"] = host
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// The reported crash, replayed: a real Sysmon line whose host name is 5,000 characters. At the
// door it is refused with its reason; already on ENDPOINT_EVENTS (stored before the limit, or
// redelivered) the device store records it under a bounded key instead of losing the NATS
// connection. Either way the ingestor stays ready and the real recording right after is
// accepted and detected.
func TestLongHostNameDoesNotCutTheIngestorOff(t *testing.T) {
	t.Parallel()
	r := start(t)
	file := sample.Read(t, mimikatzFile)
	first := bytes.SplitN(file, []byte("\n"), 2)[0]
	longHost := strings.Repeat("w", 5000) + ".offsec.lan"

	status, resp := r.post(t, withHost(t, first, longHost))
	if status != http.StatusUnprocessableEntity || len(resp.Rejected) != 1 || resp.Rejected[0].Reason != intake.ReasonFieldTooLong ||
		!strings.Contains(resp.Rejected[0].Error, "host") {
		t.Fatalf("long host posted: %d %+v, want 422 with one %s naming host", status, resp, intake.ReasonFieldTooLong)
	}

	// The same event stored without passing the door, as an event from before the limit is.
	ev, err := intake.ParseAny(withHost(t, first, longHost), "")
	if err != nil {
		t.Fatal(err)
	}
	ev.Id = "poison"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := natsx.Publish(ctx, r.js, intake.EventSubject(natsx.SubjectEndpointEvents, ev), ev.Id, ev); err != nil {
		t.Fatal(err)
	}

	before := r.alerts(t)
	if status, resp := r.post(t, file); status != http.StatusOK || resp.Accepted != 3 {
		t.Fatalf("real recording posted after: %d %+v, want 200 with 3 accepted", status, resp)
	}
	waitFor(t, "detected", func() bool { r.alive(t); return r.alerts(t) > before })

	devices, err := r.js.KeyValue(ctx, natsx.BucketDevices)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{longHost, "FS03.offsec.lan"} {
		if _, err := devices.Get(ctx, entity.HostNameKey(host)); err != nil {
			t.Errorf("device %.40s... not recorded under %.60s...: %v", host, entity.HostNameKey(host), err)
		}
	}
	if got := r.status(t, "/readyz"); got != http.StatusOK {
		t.Errorf("/readyz = %d after the long host name, want 200", got)
	}
	r.alive(t)
}

// alive fails the test when Run returned.
func (r *running) alive(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		t.Fatalf("ingestor stopped: %v", err)
	default:
	}
}

// A connection the server closes for good (here: a control line over a max_control_line
// lowered while the ingestor runs) ends Run with ErrConnClosed, so the process exits non-zero
// and its orchestrator restarts it, instead of answering 503 forever while looking alive.
func TestRunEndsWhenNATSClosesTheConnection(t *testing.T) {
	t.Parallel()
	r := start(t)
	if got := r.status(t, "/healthz"); got != http.StatusOK {
		t.Fatalf("/healthz = %d before, want 200", got)
	}
	lowered := r.opts.Clone()
	lowered.MaxControlLine = 32
	if err := r.srv.ReloadOptions(lowered); err != nil {
		t.Fatal(err)
	}
	file := sample.Read(t, mimikatzFile)
	_, _ = http.Post(r.url+"/v1/events", "application/x-ndjson", bytes.NewReader(file)) // its publish closes the connection
	select {
	case err := <-r.done:
		if !errors.Is(err, natsx.ErrConnClosed) || !strings.Contains(err.Error(), "control line") {
			t.Fatalf("Run = %v, want ErrConnClosed with the server's reason", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run still running 15s after the connection was closed")
	}
	r.done <- nil // for the cleanup
}
