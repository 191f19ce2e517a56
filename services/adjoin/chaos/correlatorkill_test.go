package chaos_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/adjoin/chaos"
)

// TestCorrelatorSIGKILL is scenario 1: the correlator is SIGKILLed at random instants, many
// times, while a replay of generated alerts (1% duplicates under new Nats-Msg-Ids, 5% status
// updates as new versions) is published; after a last instance drained ALERTS and every COUNTS
// partition, every user's counts equal a clean pass computed from the input, and CORRELATED
// holds each alert exactly once per version. The partitions' takeover time is 2 s, so each
// new life takes over the partitions its killed predecessor held and counts in both stages.
func TestCorrelatorSIGKILL(t *testing.T) {
	b := setup(t)
	v := chaos.NewVerdict(t, "scenario 1: correlator SIGKILL during a replay")
	var (
		alerts   = chaos.Pick(mode, 10000, 100000)
		minKills = chaos.Pick(mode, 8, 40)
		lifeMax  = chaos.Pick(mode, 3*time.Second, 4*time.Second)
		// Killing stops when the input is published and at most this share of it is left
		// (the last instance does the rest), or after killFor.
		leftShare = chaos.Pick(mode, 0.25, 0.02)
		killFor   = chaos.Pick(mode, 40*time.Second, 7*time.Minute)
		seed      = uint64(20240611)
	)
	ctx, cancel := context.WithTimeout(context.Background(), chaos.Pick(mode, 4*time.Minute, 12*time.Minute))
	defer cancel()
	start := time.Now()
	dir, srv := startSingle(t, ctx, b)
	corr, err := chaos.NewCorrelator(b.Correlator, dir, srv.URL(), 1, "--ack-wait", "2s", "--retry-every", "200ms",
		"--takeover-after", "2s")
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, corr.Proc, srv.Proc)
	js := connect(t, srv.URL())
	provision(t, ctx, js, 1)
	users, err := chaos.PutUsers(ctx, js, 300)
	if err != nil {
		t.Fatal(err)
	}
	input := chaos.AlertLoad{Alerts: alerts, DupRate: 0.01, UpdateRate: 0.05, Seed: seed, Prefix: "k"}.Generate(users)
	want := chaos.GroundTruth(input)
	v.Figure("input: %d publishes (%d alerts, %d duplicates under new ids, %d updates) on %d users, seed %d",
		len(input), alerts, chaos.CountKind(input, chaos.Duplicate), chaos.CountKind(input, chaos.Update), len(users), seed)

	published := make(chan error, 1)
	go func() {
		_, err := chaos.PublishAll(ctx, js, input)
		published <- err
	}()
	var pubErr error
	pubDone := false
	checkPublished := func(block bool) {
		if pubDone {
			return
		}
		if block {
			pubErr, pubDone = <-published, true
			return
		}
		select {
		case pubErr = <-published:
			pubDone = true
		default:
		}
	}

	// Kill phase: each instance lives a random time, then SIGKILL; it goes on until the input
	// is all published and mostly correlated, and at least minKills kills were made.
	rng := rand.New(rand.NewPCG(seed, 7))
	kills, mid := 0, 0
	left := uint64(len(input))
	for kills < minKills || !pubDone || (float64(left) > leftShare*float64(len(input)) && time.Since(start) < killFor) {
		before := progressOf(ctx, t, js)
		if err := corr.Start(); err != nil {
			t.Fatal(err)
		}
		sleepRandom(rng, 100*time.Millisecond, lifeMax)
		if err := corr.Kill(); err != nil {
			t.Fatalf("kill %d: %v\n%s", kills+1, err, corr.LogTail(4096))
		}
		kills++
		after := progressOf(ctx, t, js)
		left = after.pending + after.ackPending + after.countsLeft
		checkPublished(false)
		// Mid-processing: the instance fetched alerts or counts, published correlated copies,
		// and work was left (pending, or in hand and unacknowledged) when it died.
		if after.delivered+after.countsDelivered > before.delivered+before.countsDelivered && after.correlated > before.correlated &&
			(left > 0 || !pubDone) {
			mid++
		}
		if kills%10 == 0 || kills <= 3 {
			t.Logf("kill %d at %s: %d correlated, delivered %d, pending %d, awaiting ack %d, %d counts left",
				kills, time.Since(start).Round(time.Millisecond), after.correlated, after.delivered, after.pending, after.ackPending, after.countsLeft)
		}
		if ctx.Err() != nil {
			t.Fatalf("kill phase did not end before the deadline (%d kills)", kills)
		}
	}
	checkPublished(true)
	if pubErr != nil {
		t.Fatalf("publishing the input: %v", pubErr)
	}
	killPhase := time.Since(start)

	// Last instance: runs until ALERTS and COUNTS are drained, then stops on SIGTERM. It is
	// ready first: the kills may have left nothing to do, and a SIGTERM before its signal
	// handler is set would end it by the signal, proving nothing.
	if err := corr.Start(); err != nil {
		t.Fatal(err)
	}
	if err := corr.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := chaos.WaitCorrelated(ctx, js, "correlator"); err != nil {
		t.Fatal(err)
	}
	drained := time.Since(start)
	v.Check("the last instance stops cleanly on SIGTERM", errs(corr.Stop(20*time.Second))...)

	v.Checkf("ALERTS holds every publish once", streamMsgs(t, ctx, js, natsx.StreamAlerts, "") == uint64(len(input)),
		"ALERTS holds %d messages, want %d", streamMsgs(t, ctx, js, natsx.StreamAlerts, ""), len(input))
	problems, err := chaos.CheckCounts(ctx, js, users, want)
	if err != nil {
		t.Fatal(err)
	}
	v.Check("every user's badge counts (total, open, by severity, highest) equal the ground truth", problems...)
	if problems, err = chaos.CheckCorrelated(ctx, js, input); err != nil {
		t.Fatal(err)
	}
	v.Check("CORRELATED holds each (alert, version, user) exactly once", problems...)
	dl := streamMsgs(t, ctx, js, natsx.StreamDeadLetter, "")
	v.Checkf("nothing dead-lettered", dl == 0, "DEADLETTER holds %d messages", dl)
	v.Checkf("kills landed while the correlator was processing", mid > 0, "none of %d kills landed mid-processing", kills)
	v.Figure("%d SIGKILLs (%d mid-processing) in %s; drained at %s; %d correlator lives",
		kills, mid, killPhase.Round(time.Second), drained.Round(time.Second), corr.Lives())
}

// progress is where the correlator stood, read between kills: its ALERTS consumer, the
// counts its COUNTS partition consumers delivered and have yet to fold, and CORRELATED.
type progress struct {
	delivered, pending, ackPending, countsDelivered, countsLeft, correlated uint64
}

func progressOf(ctx context.Context, t *testing.T, js jetstream.JetStream) progress {
	t.Helper()
	var p progress
	p.correlated = streamMsgs(t, ctx, js, natsx.StreamCorrelated, "")
	c, err := js.Consumer(ctx, natsx.StreamAlerts, "correlator")
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return p
	}
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	p.delivered, p.pending, p.ackPending = info.Delivered.Consumer, info.NumPending, uint64(info.NumAckPending)
	for p2 := range natsx.DefaultPartitions { // the correlator runs with the default
		c, err := js.Consumer(ctx, natsx.StreamCounts, natsx.CounterDurable("correlator", p2))
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("consumer: %v", err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatalf("consumer info: %v", err)
		}
		p.countsDelivered += info.Delivered.Consumer
		p.countsLeft += info.NumPending + uint64(info.NumAckPending)
	}
	return p
}

// errs turns an error into a check's problems.
func errs(err error) []string {
	if err == nil {
		return nil
	}
	return []string{err.Error()}
}
