package chaos_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/adjoin/chaos"
)

// TestPoisonMessages is scenario 5: among generated alerts, some the correlator can never
// handle (every attempt fails: their correlated copy is over the payload limit) and some it
// cannot decode. The undecodable ones are dead-lettered at their first delivery; the failing
// ones are retried until --max-deliveries, then dead-lettered; every other alert flows past
// them and the counts are exact.
func TestPoisonMessages(t *testing.T) {
	b := setup(t)
	v := chaos.NewVerdict(t, "scenario 5: poison messages for the correlator")
	const maxDeliveries = 4
	var (
		alerts  = chaos.Pick(mode, 3000, 20000)
		failing = chaos.Pick(mode, 3, 10)
		garbage = chaos.Pick(mode, 3, 10)
		seed    = uint64(555)
	)
	ctx, cancel := context.WithTimeout(context.Background(), chaos.Pick(mode, 3*time.Minute, 10*time.Minute))
	defer cancel()
	start := time.Now()
	dir, srv := startSingle(t, ctx, b)
	corr, err := chaos.NewCorrelator(b.Correlator, dir, srv.URL(), 1, "--ack-wait", "10s",
		"--max-deliveries", fmt.Sprint(maxDeliveries))
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, corr.Proc, srv.Proc)
	js := connect(t, srv.URL())
	provision(t, ctx, js, 1)
	users, err := chaos.PutUsers(ctx, js, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := corr.Start(); err != nil {
		t.Fatal(err)
	}
	if err := corr.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	input := chaos.AlertLoad{Alerts: alerts, DupRate: 0.01, UpdateRate: 0.05, Seed: seed, Prefix: "p"}.Generate(users)
	want := chaos.GroundTruth(input)

	// The poison goes in early, among the first alerts, so the rest has to flow past it.
	const pad = 600 << 10
	poisonIDs := map[string]bool{}
	for i := range failing {
		id := fmt.Sprintf("poison-%d", i)
		poisonIDs[id] = true
		a := chaos.PoisonAlert(id, pad)
		if n := proto.Size(a); n >= 1<<20-4<<10 || 2*pad <= 1<<20 {
			t.Fatalf("poison alert of %d bytes: want it under the 1 MiB payload limit and its correlated copy over it", n)
		}
		if _, err := natsx.Publish(ctx, js, chaos.AlertSubject(a.GetSide()), id+".v1", a); err != nil {
			t.Fatal(err)
		}
	}
	garbageData := map[string]bool{}
	for i := range garbage {
		m := nats.NewMsg(chaos.AlertSubject(adjoinv1.Side_SIDE_ENDPOINT))
		m.Data = fmt.Appendf(nil, "\xff\xfe garbage %d, not an adjoin.v1.Alert", i)
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("garbage-%d", i))
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
		garbageData[string(m.Data)] = true
	}
	if _, err := chaos.PublishAll(ctx, js, input); err != nil {
		t.Fatal(err)
	}
	v.Figure("%d poison alerts that always fail (%d KiB each), %d undecodable payloads, then %d publishes of %d good alerts; --max-deliveries %d",
		failing, pad>>10, garbage, len(input), alerts, maxDeliveries)

	if err := chaos.WaitCorrelated(ctx, js, "correlator"); err != nil {
		t.Fatal(err)
	}
	v.Figure("ALERTS and COUNTS drained (every good alert acknowledged and counted, every poison terminated) at %s", time.Since(start).Round(100*time.Millisecond))

	var problems, stray []string
	poisoned, garbaged := map[string]int{}, map[string]int{}
	err = chaos.ReadStream(ctx, js, natsx.StreamDeadLetter, "", func(m jetstream.Msg) error {
		errText := m.Headers().Get(natsx.HeaderError)
		if garbageData[string(m.Data())] {
			garbaged[string(m.Data())]++
			if m.Subject() != "deadletter.correlator.undecodable-alert" {
				problems = append(problems, fmt.Sprintf("garbage on %s (%q)", m.Subject(), errText))
			}
			return nil
		}
		var a adjoinv1.Alert
		if natsx.Decode(nil, m.Data(), &a) == nil && poisonIDs[a.GetId()] {
			poisoned[a.GetId()]++
			wantErr := fmt.Sprintf("delivery %d of %d", maxDeliveries, maxDeliveries)
			if m.Subject() != "deadletter.correlator.max-deliveries" || !strings.Contains(errText, wantErr) ||
				!strings.Contains(errText, "maximum payload") {
				problems = append(problems, fmt.Sprintf("%s on %s with error %q, want max-deliveries, %q and the payload limit",
					a.GetId(), m.Subject(), errText, wantErr))
			}
			return nil
		}
		stray = append(stray, m.Subject())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id := range poisonIDs {
		if poisoned[id] != 1 {
			problems = append(problems, fmt.Sprintf("poison %s dead-lettered %d times, want once", id, poisoned[id]))
		}
	}
	v.Check(fmt.Sprintf("each always-failing alert is dead-lettered once, after its %dth delivery", maxDeliveries), limit(problems)...)
	problems = nil
	for d := range garbageData {
		if garbaged[d] != 1 {
			problems = append(problems, fmt.Sprintf("%q dead-lettered %d times, want once", d, garbaged[d]))
		}
	}
	v.Check("each undecodable payload is dead-lettered once, as undecodable-alert", limit(problems)...)
	v.Check("nothing else is dead-lettered", limit(stray)...)

	problems, err = chaos.CheckCounts(ctx, js, users, want)
	if err != nil {
		t.Fatal(err)
	}
	v.Check("every user's badge counts equal the ground truth", problems...)
	if problems, err = chaos.CheckCorrelated(ctx, js, input); err != nil {
		t.Fatal(err)
	}
	v.Check("CORRELATED holds each good (alert, version, user) exactly once", problems...)
	c, err := js.Consumer(ctx, natsx.StreamAlerts, "correlator")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	msgs := streamMsgs(t, ctx, js, natsx.StreamAlerts, "")
	v.Figure("consumer: %d deliveries for %d messages, %d beyond one each (the %d always-failing alerts make %d)",
		info.Delivered.Consumer, msgs, info.Delivered.Consumer-msgs, failing, failing*(maxDeliveries-1))
	v.Check("the correlator stops cleanly", errs(corr.Stop(30*time.Second))...)
}
