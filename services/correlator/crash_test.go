package correlator_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Size and shape of the crash test's synthetic load. It tests the counting mechanism (exactly
// once across SIGKILLs), not detections, so generated alerts are the right input here.
const (
	crashUsers      = 300
	crashDupRate    = 0.01 // exact re-publishes under another Nats-Msg-Id
	crashUpdateRate = 0.05 // version 2, RESOLVED, sometimes another severity
	crashMinKills   = 15
	crashSeed       = 20240611
)

// crashAlerts is the number of distinct alerts. Each takes several disk syncs on a SyncAlways
// server (the correlator handles ~750 alerts/s with 8 workers on the 2-vCPU dev VM), so the
// default of 20,000 runs in about a minute; a larger load runs with, for example:
//
//	go test -count=1 -run Crash -v ./ -args -crash.alerts=50000
var crashAlerts = flag.Int("crash.alerts", 20000, "distinct alerts in TestCrashExactlyOnce")

// TestCrashExactlyOnce runs the real adjoin-correlator binary against a JetStream server in
// this process, SIGKILLs it at random instants while alerts stream in, restarts it each time,
// and then checks that every user's counts equal a single clean pass over the input computed
// here without pkg/counts, and that CORRELATED holds each (alert, version, entity) exactly once.
func TestCrashExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: builds the binary and runs ~1 min")
	}
	start := time.Now()
	// Bounded: ~85 s at the default size, proportionally more for a larger -crash.alerts.
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second+time.Duration(*crashAlerts)*4*time.Millisecond)
	defer cancel()

	bin := buildCorrelator(t)
	t.Logf("built %s in %s", filepath.Base(bin), time.Since(start).Round(time.Millisecond))

	url, js := startJetStream(t, true)
	users := putUsers(t, ctx, js, crashUsers)

	rng := rand.New(rand.NewPCG(crashSeed, crashSeed))
	input := generateCrashInput(rng, users)
	want := groundTruth(input)
	t.Logf("input: %d messages (%d alerts, %d duplicates, %d updates), seed %d",
		len(input), *crashAlerts, countKind(input, kindDuplicate), countKind(input, kindUpdate), crashSeed)

	// Publish while the correlator is being killed, so crashes also land between an alert and
	// its update or duplicate.
	published := make(chan error, 1)
	go func() { published <- publishAll(ctx, js, input) }()

	logPath := filepath.Join(t.TempDir(), "correlator.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	args := []string{"--nats-url", url, "--http-addr", "127.0.0.1:0", "--log-level", "warn",
		"--ack-wait", "2s", "--retry-every", "200ms"}
	var running *exec.Cmd
	t.Cleanup(func() {
		if running != nil && running.ProcessState == nil {
			_ = running.Process.Kill()
			_ = running.Wait()
		}
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("correlator output (last 4 KiB):\n%s", tail(b, 4096))
			}
		}
	})
	launch := func(n int) *exec.Cmd {
		t.Helper()
		fmt.Fprintf(logFile, "--- instance %d at %s\n", n, time.Since(start).Round(time.Millisecond))
		cmd := exec.Command(bin, args...)
		cmd.Env = withoutAdjoinEnv(os.Environ())
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		running = cmd
		return cmd
	}

	// Kill phase: each instance lives 100-700 ms, then SIGKILL.
	stream, err := js.Stream(ctx, natsx.StreamCorrelated)
	if err != nil {
		t.Fatal(err)
	}
	kills, midProcessing := 0, 0
	for kills < crashMinKills {
		before := progressOf(ctx, t, js, stream)
		cmd := launch(kills + 1)
		time.Sleep(time.Duration(100+rng.IntN(601)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill: %v", err)
		}
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("instance %d ended before it was killed: %s", kills+1, cmd.ProcessState)
		}
		kills++
		after := progressOf(ctx, t, js, stream)
		// Mid-processing: the instance fetched alerts and published correlated ones, and work
		// was left (messages pending, or in hand and unacknowledged) when it died.
		fetched := after.delivered > before.delivered
		wrote := after.correlated > before.correlated
		left := after.pending+after.ackPending > 0 || !done(published)
		if fetched && wrote && left {
			midProcessing++
		}
		t.Logf("kill %2d: +%d correlated, delivered %d, pending %d, ack pending %d",
			kills, after.correlated-before.correlated, after.delivered, after.pending, after.ackPending)
	}

	// Last instance: runs until the input is fully processed, then stops on SIGTERM.
	last := launch(kills + 1)
	select {
	case err := <-published:
		if err != nil {
			t.Fatalf("publishing input: %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("publishing input: %v", ctx.Err())
	}
	t.Logf("input published and acknowledged at %s", time.Since(start).Round(time.Millisecond))
	cons, err := js.Consumer(ctx, natsx.StreamAlerts, "correlator")
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := cons.Info(ctx)
		if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("ALERTS not drained before the deadline: %+v, %v", info, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	drained := time.Since(start)
	if err := last.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- last.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("last instance on SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("last instance did not exit within 15s of SIGTERM")
	}

	checkCounts(t, ctx, js, users, want)
	checkCorrelated(t, ctx, js, input)
	if dl, err := js.Stream(ctx, natsx.StreamDeadLetter); err != nil {
		t.Error(err)
	} else if info, err := dl.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Errorf("DEADLETTER: %d messages (%v), want none", info.State.Msgs, err)
	}
	t.Logf("%d SIGKILLs, %d of them mid-processing; drained at %s; total %s",
		kills, midProcessing, drained.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if midProcessing == 0 {
		t.Error("no kill landed while the correlator was processing: the test proved nothing")
	}
}

// buildCorrelator builds the real binary once for the test.
func buildCorrelator(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "adjoin-correlator")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/adjoin-correlator")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startJetStream starts an embedded server with the topology provisioned, stopped at cleanup,
// and returns its client URL and a JetStream client on it.
func startJetStream(tb testing.TB, syncAlways bool) (string, jetstream.JetStream) {
	tb.Helper()
	s, err := natsx.StartEmbedded(natsx.EmbeddedOptions{StoreDir: tb.TempDir(), Port: -1, SyncAlways: syncAlways})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		tb.Fatal(err)
	}
	if err := natsx.Provision(context.Background(), js, natsx.NewTopology(1)); err != nil {
		tb.Fatal(err)
	}
	return s.ClientURL(), js
}

// putUsers stores n users in the directory and returns their keys (their SIDs).
func putUsers(tb testing.TB, ctx context.Context, js jetstream.JetStream, n int) []string {
	tb.Helper()
	kv, err := js.KeyValue(ctx, natsx.BucketDirectory)
	if err != nil {
		tb.Fatal(err)
	}
	keys := make([]string, n)
	for i := range n {
		sid := fmt.Sprintf("S-1-5-21-1-2-3-%d", 1000+i)
		e := &adjoinv1.Entity{
			Key: sid, Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: sid,
			SamAccountName: fmt.Sprintf("user%d", i), NetbiosDomain: "LAB", DnsDomain: "lab.test",
		}
		data, err := proto.Marshal(e)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := kv.Put(ctx, sid, data); err != nil {
			tb.Fatal(err)
		}
		keys[i] = sid
	}
	return keys
}

// testAlert is a user alert as the ingestors would publish it.
func testAlert(id string, side adjoinv1.Side, sev adjoinv1.Severity, status adjoinv1.AlertStatus, version int64, at time.Time, sid string) *adjoinv1.Alert {
	return &adjoinv1.Alert{
		Id: id, Side: side, Source: "crash-test", Detector: "synthetic", Title: "synthetic alert " + id,
		Severity: sev, Status: status, Version: version,
		FirstActivity: timestamppb.New(at), LastActivity: timestamppb.New(at.Add(time.Minute)),
		UpdatedTime: timestamppb.New(at.Add(time.Duration(version) * time.Hour)),
		Entities:    []*adjoinv1.EntityRef{{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: sid}},
	}
}

func alertSubject(side adjoinv1.Side) string {
	if side == adjoinv1.Side_SIDE_IDENTITY {
		return natsx.SubjectIdentityAlerts + ".test"
	}
	return natsx.SubjectEndpointAlerts + ".test"
}

type inputKind int

const (
	kindOriginal inputKind = iota
	kindDuplicate
	kindUpdate
)

// inputMsg is one publish of the crash test's input.
type inputMsg struct {
	kind  inputKind
	user  string
	msgID string
	alert *adjoinv1.Alert
	order float64 // publish position
}

// generateCrashInput returns the input in publish order: every original alert, each duplicate
// and update some way after its original (sometimes a duplicate of version 1 after version 2).
func generateCrashInput(rng *rand.Rand, users []string) []inputMsg {
	sides := []adjoinv1.Side{adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Side_SIDE_ENDPOINT}
	sevs := []adjoinv1.Severity{adjoinv1.Severity_SEVERITY_INFORMATIONAL, adjoinv1.Severity_SEVERITY_LOW,
		adjoinv1.Severity_SEVERITY_MEDIUM, adjoinv1.Severity_SEVERITY_HIGH}
	statuses := []adjoinv1.AlertStatus{adjoinv1.AlertStatus_ALERT_STATUS_NEW, adjoinv1.AlertStatus_ALERT_STATUS_IN_PROGRESS}
	// Alerts are spread over 200 days, so with a 24 h incident window incidents stay small and
	// the test measures counting rather than incident walks.
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 200 * 24 * time.Hour / time.Duration(*crashAlerts)
	var out []inputMsg
	for i := range *crashAlerts {
		id := fmt.Sprintf("a%d", i)
		user := users[rng.IntN(len(users))]
		side := sides[rng.IntN(2)]
		at := base.Add(time.Duration(i) * step)
		a := testAlert(id, side, sevs[rng.IntN(len(sevs))], statuses[rng.IntN(2)], 1, at, user)
		out = append(out, inputMsg{kind: kindOriginal, user: user, msgID: id + ".v1", alert: a, order: float64(i)})
		if rng.Float64() < crashDupRate {
			out = append(out, inputMsg{kind: kindDuplicate, user: user, msgID: id + ".v1.again", alert: a,
				order: float64(i) + 0.5 + float64(rng.IntN(2000))})
		}
		if rng.Float64() < crashUpdateRate {
			sev := a.GetSeverity()
			if rng.IntN(2) == 0 {
				sev = sevs[rng.IntN(len(sevs))]
			}
			u := testAlert(id, side, sev, adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED, 2, at, user)
			out = append(out, inputMsg{kind: kindUpdate, user: user, msgID: id + ".v2", alert: u,
				order: float64(i) + 0.25 + float64(rng.IntN(2000))})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].order < out[j].order })
	return out
}

func countKind(in []inputMsg, k inputKind) int {
	n := 0
	for _, m := range in {
		if m.kind == k {
			n++
		}
	}
	return n
}

// sideSummary is one side's badge numbers on one user.
type sideSummary struct {
	Total, Open int
	BySeverity  map[adjoinv1.Severity]int
}

func (s sideSummary) String() string {
	var sev []string
	for k := adjoinv1.Severity_SEVERITY_UNSPECIFIED; k <= adjoinv1.Severity_SEVERITY_HIGH; k++ {
		if n := s.BySeverity[k]; n > 0 {
			sev = append(sev, fmt.Sprintf("%s:%d", strings.TrimPrefix(k.String(), "SEVERITY_"), n))
		}
	}
	return fmt.Sprintf("total %d open %d [%s]", s.Total, s.Open, strings.Join(sev, " "))
}

func equalSummary(a, b sideSummary) bool {
	if a.Total != b.Total || a.Open != b.Open {
		return false
	}
	for k := adjoinv1.Severity_SEVERITY_UNSPECIFIED; k <= adjoinv1.Severity_SEVERITY_HIGH; k++ {
		if a.BySeverity[k] != b.BySeverity[k] {
			return false
		}
	}
	return true
}

type alertState struct {
	side     adjoinv1.Side
	version  int64
	status   adjoinv1.AlertStatus
	severity adjoinv1.Severity
}

// summarise turns per-alert states into per-side numbers: an alert is open unless RESOLVED.
func summarise(states map[string]alertState) map[adjoinv1.Side]sideSummary {
	out := map[adjoinv1.Side]sideSummary{}
	for _, st := range states {
		s, ok := out[st.side]
		if !ok {
			s = sideSummary{BySeverity: map[adjoinv1.Severity]int{}}
		}
		s.Total++
		if st.status != adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED {
			s.Open++
		}
		s.BySeverity[st.severity]++
		out[st.side] = s
	}
	return out
}

// groundTruth is what one clean pass gives, from the input alone: per user, each distinct alert
// at its highest version.
func groundTruth(in []inputMsg) map[string]map[adjoinv1.Side]sideSummary {
	states := map[string]map[string]alertState{}
	for _, m := range in {
		if states[m.user] == nil {
			states[m.user] = map[string]alertState{}
		}
		a := m.alert
		if cur, ok := states[m.user][a.GetId()]; ok && cur.version >= a.GetVersion() {
			continue
		}
		states[m.user][a.GetId()] = alertState{side: a.GetSide(), version: a.GetVersion(), status: a.GetStatus(), severity: a.GetSeverity()}
	}
	out := map[string]map[adjoinv1.Side]sideSummary{}
	for user, st := range states {
		out[user] = summarise(st)
	}
	return out
}

// publishAll publishes the input asynchronously, a window at a time, and waits for every
// acknowledgement; none may be a stream duplicate, since every publish has its own Nats-Msg-Id.
func publishAll(ctx context.Context, js jetstream.JetStream, in []inputMsg) error {
	const window = 1000
	for len(in) > 0 {
		chunk := in[:min(window, len(in))]
		in = in[len(chunk):]
		futures := make([]jetstream.PubAckFuture, 0, len(chunk))
		for _, m := range chunk {
			msg, err := natsx.NewMsg(alertSubject(m.alert.GetSide()), m.msgID, m.alert)
			if err != nil {
				return err
			}
			f, err := js.PublishMsgAsync(msg)
			if err != nil {
				return fmt.Errorf("publish %s: %w", m.msgID, err)
			}
			futures = append(futures, f)
		}
		for i, f := range futures {
			select {
			case ack := <-f.Ok():
				if ack.Duplicate {
					return fmt.Errorf("publish %s: stored as a duplicate", chunk[i].msgID)
				}
			case err := <-f.Err():
				return fmt.Errorf("publish %s: %w", chunk[i].msgID, err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// progress is where the correlator stood, read between kills.
type progress struct {
	delivered           uint64 // deliveries by the ALERTS consumer
	pending, ackPending uint64
	correlated          uint64 // messages in CORRELATED
}

func progressOf(ctx context.Context, t *testing.T, js jetstream.JetStream, stream jetstream.Stream) progress {
	t.Helper()
	var p progress
	if info, err := stream.Info(ctx); err == nil {
		p.correlated = info.State.Msgs
	}
	cons, err := js.Consumer(ctx, natsx.StreamAlerts, "correlator")
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return p
	}
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	p.delivered, p.pending, p.ackPending = info.Delivered.Consumer, info.NumPending, uint64(info.NumAckPending)
	return p
}

func done(ch chan error) bool { return len(ch) > 0 }

// checkCounts compares every user's stored counts, summarised here, with the ground truth.
func checkCounts(t *testing.T, ctx context.Context, js jetstream.JetStream, users []string, want map[string]map[adjoinv1.Side]sideSummary) {
	t.Helper()
	kv, err := js.KeyValue(ctx, natsx.BucketBadges)
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, user := range users {
		states := map[string]alertState{}
		e, err := kv.Get(ctx, user)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			t.Fatal(err)
		default:
			var ec adjoinv1.EntityCounts
			if err := natsx.Decode(nil, e.Value(), &ec); err != nil {
				t.Fatalf("badge %s: %v", user, err)
			}
			for _, c := range ec.GetAlerts() {
				if _, dup := states[c.GetAlertId()]; dup {
					t.Errorf("user %s: alert %s counted twice", user, c.GetAlertId())
				}
				states[c.GetAlertId()] = alertState{side: c.GetSide(), version: c.GetVersion(), status: c.GetStatus(), severity: c.GetSeverity()}
			}
		}
		got := summarise(states)
		for _, side := range []adjoinv1.Side{adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Side_SIDE_ENDPOINT} {
			g, w := got[side], want[user][side]
			if !equalSummary(g, w) {
				bad++
				if bad <= 10 {
					t.Errorf("user %s %s: got %s, want %s", user, side, g, w)
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d user/side counts differ from a clean pass", bad)
	}
}

// checkCorrelated reads every correlated.user.* message and checks that each (alert, version,
// entity) of the input is there exactly once, on its user's subject.
func checkCorrelated(t *testing.T, ctx context.Context, js jetstream.JetStream, in []inputMsg) {
	t.Helper()
	want := map[string]int{}
	for _, m := range in {
		want[fmt.Sprintf("%s v%d %s", m.alert.GetId(), m.alert.GetVersion(), m.user)] = 1
	}
	stream, err := js.Stream(ctx, natsx.StreamCorrelated)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(want)) {
		t.Errorf("CORRELATED holds %d messages, want %d (one per alert version and user)", info.State.Msgs, len(want))
	}
	users, err := stream.Info(ctx, jetstream.WithSubjectFilter(natsx.SubjectCorrelatedUser+".*"))
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, n := range users.State.Subjects {
		total += n
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{natsx.SubjectCorrelatedUser + ".*"}})
	if err != nil {
		t.Fatal(err)
	}
	it, err := cons.Messages()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	got := map[string]int{}
	for range total {
		m, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		var c adjoinv1.CorrelatedAlert
		if err := natsx.Decode(m.Headers(), m.Data(), &c); err != nil {
			t.Fatalf("correlated message on %s: %v", m.Subject(), err)
		}
		if want := natsx.SubjectCorrelatedUser + "." + c.GetEntityKey(); m.Subject() != want {
			t.Errorf("alert %s for %s published on %s", c.GetAlert().GetId(), c.GetEntityKey(), m.Subject())
		}
		got[fmt.Sprintf("%s v%d %s", c.GetAlert().GetId(), c.GetAlert().GetVersion(), c.GetEntityKey())]++
	}
	missing, extra := 0, 0
	for k := range want {
		if got[k] == 0 {
			missing++
			if missing <= 5 {
				t.Errorf("correlated %s missing", k)
			}
		}
	}
	for k, n := range got {
		if want[k] == 0 {
			extra++
			if extra <= 5 {
				t.Errorf("correlated %s not in the input", k)
			}
		} else if n > 1 {
			extra++
			if extra <= 5 {
				t.Errorf("correlated %s published %d times", k, n)
			}
		}
	}
	if missing+extra > 0 {
		t.Errorf("CORRELATED: %d missing, %d extra or duplicated of %d", missing, extra, len(want))
	}
}

// withoutAdjoinEnv drops ADJOIN_* settings, so the child runs with the flags given here only.
func withoutAdjoinEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ADJOIN_") {
			out = append(out, kv)
		}
	}
	return out
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
