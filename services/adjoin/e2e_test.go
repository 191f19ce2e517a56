package adjoin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

type testStack struct {
	*DevStack
	js     jetstream.JetStream
	badges adjoinv1.BadgeServiceClient
}

func startStack(t *testing.T) *testStack { return startStackWith(t, nil) }

// startStackWith is startStack with the settings of `adjoin dev` adjusted by devConfig.
func startStackWith(t *testing.T, devConfig func(*DevConfig)) *testStack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := DevConfig{Dir: t.TempDir(), Host: "127.0.0.1", NATSPort: -1}
	if devConfig != nil {
		devConfig(&cfg)
	}
	stack, err := StartDev(ctx, cfg, zap.NewNop())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := stack.Wait(); err != nil {
			t.Errorf("stack stopped with error: %v", err)
		}
	})
	nc, err := nats.Connect(stack.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(stack.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ts := &testStack{DevStack: stack, js: js, badges: adjoinv1.NewBadgeServiceClient(conn)}
	for _, u := range []string{stack.DCURL, stack.EndpointURL, stack.CorrelatorURL} {
		testkit.Eventually(t, 20*time.Second, func() error { return httpOK(u + "/readyz") })
	}
	return ts
}

func httpOK(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

func post(t *testing.T, url string, body []byte) (intake.Response, int) {
	t.Helper()
	resp, err := http.Post(url+"/v1/events", "application/x-ndjson", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r intake.Response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return r, resp.StatusCode
}

func (s *testStack) badge(t *testing.T, query string) *adjoinv1.Badge {
	t.Helper()
	resp, err := s.badges.GetBadge(context.Background(), &adjoinv1.GetBadgeRequest{
		Selector: &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: query}},
	})
	if err != nil {
		t.Fatalf("GetBadge(%q): %v", query, err)
	}
	return resp.GetBadge()
}

// settled waits until every consumer of the pipeline has nothing pending or unacknowledged,
// so counts read afterwards are final.
func (s *testStack) settled(t *testing.T) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, func() error {
		for _, c := range []struct{ stream, name string }{
			{natsx.StreamDCEvents, "dcingest-detect"},
			{natsx.StreamEndpointEvents, "endpointingest-detect"},
			{natsx.StreamAlerts, "correlator"},
		} {
			cons, err := s.js.Consumer(context.Background(), c.stream, c.name)
			if err != nil {
				return err
			}
			info, err := cons.Info(context.Background())
			if err != nil {
				return err
			}
			if info.NumPending != 0 || info.NumAckPending != 0 {
				return fmt.Errorf("%s: %d pending, %d unacknowledged", c.name, info.NumPending, info.NumAckPending)
			}
		}
		return nil
	})
}

func TestEndToEndDCSyncAndLSASS(t *testing.T) {
	dcsync := sample.Read(t, "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json")
	lsass := sample.Read(t, "otrf/host/empire_over_pth_patch_lsass_2020-09-21221336.sec-sys-sysmon.json")
	s := startStack(t)
	lines := func(b []byte) int { return bytes.Count(b, []byte("\n")) }

	r, code := post(t, s.DCURL, dcsync)
	if code != http.StatusOK || r.Accepted != lines(dcsync) || len(r.Rejected) != 0 {
		t.Fatalf("DC post: status %d, accepted %d of %d, rejected %v", code, r.Accepted, lines(dcsync), r.Rejected)
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		if got := s.badge(t, `THESHIRE\pgustavo`).GetIdentity().GetTotal(); got != 1 {
			return fmt.Errorf("pgustavo identity total = %d, want 1", got)
		}
		return nil
	})

	r, code = post(t, s.EndpointURL, lsass)
	if code != http.StatusOK || r.Accepted != lines(lsass) {
		t.Fatalf("endpoint post: status %d, accepted %d of %d, rejected %v", code, r.Accepted, lines(lsass), r.Rejected)
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		b := s.badge(t, "WORKSTATION6")
		// S4: mimikatz reading LSASS, and the type-9 pass-the-hash logon it made.
		if b.GetEndpoint().GetTotal() != 2 || !b.GetEndpoint().GetKnown() {
			return fmt.Errorf("WORKSTATION6 endpoint total = %d known %v, want 2 known", b.GetEndpoint().GetTotal(), b.GetEndpoint().GetKnown())
		}
		return nil
	})
	s.settled(t)

	// The same files again: every line is a duplicate and no count moves.
	if r, _ := post(t, s.DCURL, dcsync); r.Duplicates != r.Accepted {
		t.Errorf("second DC post: %d duplicates of %d accepted", r.Duplicates, r.Accepted)
	}
	if r, _ := post(t, s.EndpointURL, lsass); r.Duplicates != r.Accepted {
		t.Errorf("second endpoint post: %d duplicates of %d accepted", r.Duplicates, r.Accepted)
	}
	s.settled(t)
	for _, tc := range []struct {
		query              string
		identity, endpoint int64
	}{
		// pgustavo: the DCSync (identity) and the S4 pass-the-hash that used his identity (endpoint).
		{`THESHIRE\pgustavo`, 1, 1},
		{"pgustavo@theshire.local", 1, 1},
		{"S-1-5-21-3669966080-2286457517-972388166-1104", 1, 1},
		{"WORKSTATION6.theshire.local", 0, 2},
		{"MORDORDC", 1, 0},
	} {
		b := s.badge(t, tc.query)
		if b.GetIdentity().GetTotal() != tc.identity || b.GetEndpoint().GetTotal() != tc.endpoint {
			t.Errorf("%s: identity %d endpoint %d, want %d %d", tc.query, b.GetIdentity().GetTotal(), b.GetEndpoint().GetTotal(), tc.identity, tc.endpoint)
		}
	}
	if b := s.badge(t, "sbeavers"); b.GetEndpoint().GetKnown() || b.GetEndpoint().GetGreyedReason() != adjoinv1.GreyedReason_GREYED_REASON_NEVER_SEEN {
		t.Errorf("sbeavers endpoint side = known %v reason %v, want greyed NEVER_SEEN", b.GetEndpoint().GetKnown(), b.GetEndpoint().GetGreyedReason())
	}
}

func TestBadInputIsAnsweredAndDeadLettered(t *testing.T) {
	s := startStack(t)
	body := []byte("not json\n" +
		`{"EventID":4662,"Channel":"Security","Hostname":"MORDORDC.theshire.local","@timestamp":"2020-08-05T06:10:03.798Z","EventTime":"2020-08-05 02:10:02"}` + "\n" +
		`{"Channel":"Security"}` + "\n" +
		"[1,2]\n")
	r, code := post(t, s.DCURL, body)
	if code != http.StatusOK || r.Accepted != 1 {
		t.Fatalf("status %d accepted %d, want 200 and 1", code, r.Accepted)
	}
	want := map[int]string{1: "not-json", 3: "missing-field", 4: "not-object"}
	if len(r.Rejected) != len(want) {
		t.Fatalf("rejected = %+v, want lines %v", r.Rejected, want)
	}
	for _, rej := range r.Rejected {
		if want[rej.Line] != rej.Reason || rej.Error == "" {
			t.Errorf("line %d rejected as %q (%s), want %q", rej.Line, rej.Reason, rej.Error, want[rej.Line])
		}
	}
	stream, err := s.js.Stream(context.Background(), natsx.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Errorf("DEADLETTER holds %d messages, want 3", info.State.Msgs)
	}
	msg, err := stream.GetLastMsgForSubject(context.Background(), "deadletter.dcingest.not-json")
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != "not json" || msg.Header.Get(natsx.HeaderOrigin) == "" {
		t.Errorf("dead letter = %q origin %q", msg.Data, msg.Header.Get(natsx.HeaderOrigin))
	}

	_, err = s.badges.GetBadge(context.Background(), &adjoinv1.GetBadgeRequest{})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("empty selector: %v, want InvalidArgument", err)
	}
	_, err = s.badges.GetBadge(context.Background(), &adjoinv1.GetBadgeRequest{
		Selector: &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: `THESHIRE\nobody`}},
	})
	if status.Code(err) != codes.NotFound {
		t.Errorf("unknown user: %v, want NotFound", err)
	}
}

func TestTailPrintsCorrelatedAsJSON(t *testing.T) {
	s := startStack(t)
	body := sample.Read(t, "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json")
	if _, code := post(t, s.DCURL, body); code != http.StatusOK {
		t.Fatalf("post: %d", code)
	}
	s.settled(t)
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- Main(ctx, []string{"tail", "--nats-url", s.NATSURL, "--all", "correlated.user.>"}, out, io.Discard)
	}()
	testkit.Eventually(t, 10*time.Second, func() error {
		if !bytes.Contains(out.Bytes(), []byte(`"detector":"dcsync"`)) {
			return fmt.Errorf("tail printed %q", out.String())
		}
		return nil
	})
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("adjoin tail exited %d", code)
	}
	var line tailLine
	if err := json.Unmarshal(bytes.SplitN(out.Bytes(), []byte("\n"), 2)[0], &line); err != nil {
		t.Fatal(err)
	}
	if line.Type != "adjoin.v1.CorrelatedAlert" || line.Seq == 0 || !strings.HasPrefix(line.Subject, "correlated.user.") {
		t.Errorf("line = %+v", line)
	}
	// --max ends it by itself, for scripts.
	got, errOut, code := run(t, "tail", "--nats-url", s.NATSURL, "--all", "--max", "1", "correlated.user.>")
	if code != 0 || strings.Count(got, "\n") != 1 || !strings.Contains(got, `"detector":"dcsync"`) {
		t.Errorf("tail --max 1: exit %d, %q %s", code, got, errOut)
	}
	// What it does goes to stderr: what it follows, how it stops, the count at the end.
	for _, want := range []string{"following correlated.user.> in stream CORRELATED (stops after 1, or Ctrl-C)", "1 message(s) printed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("tail --max 1 stderr lacks %q: %s", want, errOut)
		}
	}
}

// TestTailSaysItWaitsForNATS: with nothing listening, tail says on stderr that it waits (it
// used to hang silently), and Ctrl-C (the context) ends it with the question to ask.
func TestTailSaysItWaitsForNATS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), tailFirstTry+time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := Main(ctx, []string{"tail", "--nats-url", "nats://127.0.0.1:1", "--all"}, &out, &errOut)
	for _, want := range []string{"waiting for NATS at nats://127.0.0.1:1 (is the stack running? Ctrl-C to stop)", "is the stack running?"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q: %s", want, errOut.String())
		}
	}
	if code != 1 || out.Len() != 0 {
		t.Errorf("exit %d with stdout %q, want 1 and nothing", code, out.String())
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }
