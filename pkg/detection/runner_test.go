package detection_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"
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
	t.Parallel()
	srv := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Date(2026, 11, 28, 7, 0, 0, 0, time.UTC)
	for i := range 6 {
		ev := &adjoinv1.Event{EventId: 4771, Time: timestamppb.New(t0.Add(time.Duration(i) * time.Second)),
			Fields: map[string]string{"TargetUserName": fmt.Sprintf("user%d", i)}}
		msg, err := natsx.NewMsg("events.dc.security.4771", fmt.Sprintf("ev-%d", i), ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.JS.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	r := &detection.Runner{JS: srv.JS, Stream: natsx.StreamDCEvents, Durable: "test-detect", Service: "test",
		Detectors: []detection.Detector{&growing{}}, Log: zap.NewNop(), Batch: 2}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()

	// Batches of two events: the alert is raised in the second batch (events 2, 3) and grows
	// in the third (4, 5). Both versions are stored.
	var got []*adjoinv1.Alert
	cons, err := srv.JS.OrderedConsumer(ctx, natsx.StreamAlerts, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for len(got) < 2 {
		m, err := cons.Next(jetstream.FetchMaxWait(20 * time.Second))
		if err != nil {
			t.Fatalf("after %d alert versions: %v", len(got), err)
		}
		var a adjoinv1.Alert
		if err := natsx.Decode(m.Headers(), m.Data(), &a); err != nil {
			t.Fatal(err)
		}
		got = append(got, &a)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
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
	if !got[1].GetFirstActivity().AsTime().Equal(t0.Add(2*time.Second)) || !got[1].GetLastActivity().AsTime().Equal(t0.Add(5*time.Second)) {
		t.Errorf("version 2 spans %v..%v, want events 2..5", got[1].GetFirstActivity().AsTime(), got[1].GetLastActivity().AsTime())
	}
}
