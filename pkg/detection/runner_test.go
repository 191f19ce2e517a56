package detection_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// growing raises one alert that grows with every event after the third, the way a password
// spray names each further account it tries: same id, the event's account as the target.
type growing struct{ seen int }

func (g *growing) Name() string { return "growing" }

func (g *growing) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	g.seen++
	if g.seen < 3 {
		return nil
	}
	user := ev.GetFields()["TargetUserName"]
	return []*adjoinv1.Alert{{
		Id: "growing-1", Detector: g.Name(), Side: adjoinv1.Side_SIDE_IDENTITY, Version: 1,
		Severity: adjoinv1.Severity_SEVERITY_MEDIUM, Title: "growing",
		Entities:      []*adjoinv1.EntityRef{{SamAccountName: user, Role: adjoinv1.EntityRole_ENTITY_ROLE_TARGET}},
		Evidence:      []*adjoinv1.Evidence{{Summary: "failed " + user, Time: ev.GetTime()}},
		FirstActivity: ev.GetTime(), LastActivity: ev.GetTime(), UpdatedTime: ev.GetTime(),
	}}
}

// TestRunnerPublishesEveryVersion is the regression test for an alert that grows across
// batches: every emission used to carry version 1 and the same Nats-Msg-Id, so JetStream kept
// only the batch that raised it first and the accounts of later batches were never counted.
func TestRunnerPublishesEveryVersion(t *testing.T) {
	ctx, srv := runnerSetup(t, 6)
	r := newRunner(srv, &growing{})
	r.Batch = 2
	stop := startRunner(ctx, t, r)

	// Batches of two events: the alert is raised in the second batch (events 2, 3) and grows
	// in the third (4, 5). Both versions are stored.
	var got []*adjoinv1.Alert
	for _, m := range next(ctx, t, srv, natsx.StreamAlerts, 2) {
		var a adjoinv1.Alert
		if err := natsx.Decode(m.Headers(), m.Data(), &a); err != nil {
			t.Fatal(err)
		}
		got = append(got, &a)
	}
	stop()
	want := []struct {
		version  int64
		users    []string
		evidence int
	}{{1, []string{"user2", "user3"}, 2}, {2, []string{"user4", "user5"}, 4}}
	for i, w := range want {
		a := got[i]
		var users []string
		for _, e := range a.GetEntities() {
			users = append(users, e.GetSamAccountName())
		}
		if a.GetVersion() != w.version || fmt.Sprint(users) != fmt.Sprint(w.users) || len(a.GetEvidence()) != w.evidence {
			t.Errorf("version %d names %v with %d evidence; want version %d naming %v with %d evidence",
				a.GetVersion(), users, len(a.GetEvidence()), w.version, w.users, w.evidence)
		}
	}
	if !got[1].GetFirstActivity().AsTime().Equal(eventTime(2)) || !got[1].GetLastActivity().AsTime().Equal(eventTime(5)) {
		t.Errorf("version 2 spans %v..%v, want events 2..5", got[1].GetFirstActivity().AsTime(), got[1].GetLastActivity().AsTime())
	}
}

// panicky panics on the event of one user.
type panicky struct{ user string }

func (p panicky) Name() string { return "panicky" }

func (p panicky) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetFields()["TargetUserName"] == p.user {
		var seen []string
		_ = seen[len(ev.GetFields())] // an index out of range: the kind of bug a surprising event finds
	}
	return nil
}

// TestRunnerSurvivesADetectorPanic: the event a detector panics on is copied to DEADLETTER
// with the panic, the other detectors' alerts on it stand, and nothing is left pending.
func TestRunnerSurvivesADetectorPanic(t *testing.T) {
	ctx, srv := runnerSetup(t, 4)
	r := newRunner(srv, panicky{user: "user3"}, &growing{})
	stop := startRunner(ctx, t, r)
	defer stop()
	dl := next(ctx, t, srv, natsx.StreamDeadLetter, 1)[0]
	if dl.Subject() != "deadletter.test.detector-failed" || !strings.Contains(dl.Headers().Get(natsx.HeaderError), "detector panicky panicked") {
		t.Errorf("dead letter %s: %q", dl.Subject(), dl.Headers().Get(natsx.HeaderError))
	}
	var ev adjoinv1.Event
	if err := natsx.Decode(nil, dl.Data(), &ev); err != nil || ev.GetFields()["TargetUserName"] != "user3" {
		t.Errorf("dead letter holds %v (%v), want the event of user3", ev.GetFields(), err)
	}
	alert := next(ctx, t, srv, natsx.StreamAlerts, 1)[0]
	var a adjoinv1.Alert
	if err := natsx.Decode(alert.Headers(), alert.Data(), &a); err != nil || len(a.GetEvidence()) != 2 {
		t.Errorf("alert %v with %d evidence, want the other detector's alert on events 2 and 3", err, len(a.GetEvidence()))
	}
	waitNoPending(ctx, t, srv, "test-detect")
}

// TestRunnerGivesUpOnAnEventThatKeepsFailing: OnEvent failing on one event naks it with a
// delay, and at the MaxDeliveries-th delivery it goes to DEADLETTER while the rest flows.
func TestRunnerGivesUpOnAnEventThatKeepsFailing(t *testing.T) {
	ctx, srv := runnerSetup(t, 4)
	var mu sync.Mutex
	seen := map[string]int{}
	r := newRunner(srv, &growing{})
	r.MaxDeliveries = 2
	r.OnEvent = func(_ context.Context, ev *adjoinv1.Event) error {
		mu.Lock()
		defer mu.Unlock()
		user := ev.GetFields()["TargetUserName"]
		seen[user]++
		if user == "user1" {
			return errors.New("device store refuses user1")
		}
		return nil
	}
	stop := startRunner(ctx, t, r)
	defer stop()
	dl := next(ctx, t, srv, natsx.StreamDeadLetter, 1)[0]
	if dl.Subject() != "deadletter.test.max-deliveries" || !strings.Contains(dl.Headers().Get(natsx.HeaderError), "still failing at delivery 2 of 2: device store refuses user1") {
		t.Errorf("dead letter %s: %q", dl.Subject(), dl.Headers().Get(natsx.HeaderError))
	}
	waitNoPending(ctx, t, srv, "test-detect")
	mu.Lock()
	defer mu.Unlock()
	if seen["user1"] != 2 || seen["user3"] == 0 {
		t.Errorf("OnEvent saw %v, want user1 twice and the rest", seen)
	}
}

// runnerSetup starts a server for a parallel test, with n events on DC_EVENTS.
func runnerSetup(t *testing.T, n int) (context.Context, *natstest.Server) {
	t.Helper()
	t.Parallel()
	srv := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	publishEvents(ctx, t, srv, n)
	return ctx, srv
}

// newRunner is a runner of detectors over DC_EVENTS with the durable "test-detect".
func newRunner(srv *natstest.Server, detectors ...detection.Detector) *detection.Runner {
	return &detection.Runner{JS: srv.JS, Stream: natsx.StreamDCEvents, Durable: "test-detect", Service: "test",
		Detectors: detectors, Log: zap.NewNop()}
}

func eventTime(i int) time.Time {
	return time.Date(2026, 11, 28, 7, 0, i, 0, time.UTC)
}

// publishEvents puts n failed logons of user0..user<n-1> on DC_EVENTS.
func publishEvents(ctx context.Context, t *testing.T, srv *natstest.Server, n int) {
	t.Helper()
	for i := range n {
		ev := &adjoinv1.Event{EventId: 4771, Time: timestamppb.New(eventTime(i)),
			Fields: map[string]string{"TargetUserName": fmt.Sprintf("user%d", i)}}
		msg, err := natsx.NewMsg("events.dc.security.4771", fmt.Sprintf("ev-%d", i), ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.JS.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
}

// startRunner runs r until the returned stop is called.
func startRunner(ctx context.Context, t *testing.T, r *detection.Runner) (stop func()) {
	t.Helper()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	return sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// next reads the first n messages of a stream.
func next(ctx context.Context, t *testing.T, srv *natstest.Server, stream string, n int) []jetstream.Msg {
	t.Helper()
	cons, err := srv.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for len(out) < n {
		m, err := cons.Next(jetstream.FetchMaxWait(20 * time.Second))
		if err != nil {
			t.Fatalf("%s: after %d messages: %v", stream, len(out), err)
		}
		out = append(out, m)
	}
	return out
}

// waitNoPending waits until the durable has nothing pending or unacknowledged.
func waitNoPending(ctx context.Context, t *testing.T, srv *natstest.Server, durable string) {
	t.Helper()
	for {
		c, err := srv.JS.Consumer(ctx, natsx.StreamDCEvents, durable)
		if err == nil {
			if info, err := c.Info(ctx); err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("consumer %s still has pending events", durable)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
