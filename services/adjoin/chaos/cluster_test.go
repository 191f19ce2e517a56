package chaos_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/adjoin/chaos"
)

// TestClusterLeaderKill is scenario 3: three nats-server processes in a cluster on loopback,
// the topology provisioned with replicas 3 (natsx.Provision), the real DC ingestor and
// correlator on it; real events flow through the HTTP intake and generated alerts into ALERTS
// while the leader of DC_EVENTS, then of ALERTS, is SIGKILLed (and started again after the
// election). Nothing acknowledged is lost, the consumers resume and the counts are exact; the
// election time (kill → another leader in the stream info) is reported.
func TestClusterLeaderKill(t *testing.T) {
	b := setup(t)
	v := chaos.NewVerdict(t, "scenario 3: R3 cluster, stream leader SIGKILL")
	var (
		kills  = chaos.Pick(mode, 1, 6)
		nLines = chaos.Pick(mode, 2000, 12000)
		alerts = chaos.Pick(mode, 2000, 20000)
		seed   = uint64(31337)
	)
	ctx, cancel := context.WithTimeout(context.Background(), chaos.Pick(mode, 4*time.Minute, 12*time.Minute))
	defer cancel()
	start := time.Now()
	dir := t.TempDir()
	cluster, err := chaos.StartCluster(ctx, b.NATSServer, dir)
	if cluster != nil {
		for _, s := range cluster.Servers {
			stopAtEnd(t, s.Proc)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	js := connect(t, cluster.URLs())
	provision(t, ctx, js, 3)
	users, err := chaos.PutUsers(ctx, js, 100)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := chaos.NewDCIngest(b.DCIngest, dir, cluster.URLs(), 3)
	if err != nil {
		t.Fatal(err)
	}
	corr, err := chaos.NewCorrelator(b.Correlator, dir, cluster.URLs(), 3, "--ack-wait", "10s", "--retry-every", "500ms")
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, dc.Proc, corr.Proc)
	for _, s := range []*chaos.Service{dc, corr} {
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		if err := s.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	v.Figure("cluster of 3 up, R3 topology provisioned, dcingest and correlator ready in %s", time.Since(start).Round(100*time.Millisecond))

	lines, err := chaos.DistinctLines(nLines, recordings(t)...)
	if err != nil {
		t.Fatal(err)
	}
	input := chaos.AlertLoad{Alerts: alerts, DupRate: 0.01, UpdateRate: 0.05, Seed: seed, Prefix: "c"}.Generate(users)
	want := chaos.GroundTruth(input)

	// The flows go in kills+1 phases; kill k happens in phase k-1, once half of its batches
	// were acknowledged, so events and alerts are in flight at every kill.
	accepted := map[string]bool{}
	var elections []time.Duration
	retries := 0
	var pubRetries atomic.Int64
	targets := []string{natsx.StreamDCEvents, natsx.StreamAlerts}
	for phase := 0; phase <= kills; phase++ {
		lo, hi := phase*len(lines)/(kills+1), (phase+1)*len(lines)/(kills+1)
		alo, ahi := phase*len(input)/(kills+1), (phase+1)*len(input)/(kills+1)
		// Alerts are published in step with the events: a slice of them after each batch.
		half := make(chan struct{})
		batches := (hi - lo + 99) / 100
		var acked atomic.Int64
		sender := &chaos.Sender{URL: dc.URL() + "/v1/events", Batch: 100, GiveUp: 5 * time.Minute, Progress: func(n int) {
			acked.Store(int64(n))
			if n == (batches+1)/2 {
				close(half)
			}
		}}
		type sendResult struct {
			sent chaos.Sent
			err  error
		}
		sent := make(chan sendResult, 1)
		go func() {
			s, err := sender.Send(ctx, lines[lo:hi])
			sent <- sendResult{s, err}
		}()
		pub := make(chan error, 1)
		go func() {
			for i := range batches {
				for acked.Load() < int64(i) && ctx.Err() == nil {
					time.Sleep(5 * time.Millisecond)
				}
				n, err := chaos.PublishAll(ctx, js, input[alo+i*(ahi-alo)/batches:alo+(i+1)*(ahi-alo)/batches])
				pubRetries.Add(int64(n))
				if err != nil {
					pub <- err
					return
				}
			}
			pub <- nil
		}()
		var killed *chaos.NATSServer
		if phase < kills {
			select {
			case <-half:
			case r := <-sent:
				sent <- r // the phase's events are all sent (or failed): kill now, look below
			case <-ctx.Done():
				t.Fatalf("phase %d: half of the batches not acknowledged before the deadline", phase)
			}
			stream := targets[phase%len(targets)]
			leader, err := chaos.StreamLeader(ctx, js, stream)
			if err != nil || leader == "" {
				t.Fatalf("leader of %s: %q, %v", stream, leader, err)
			}
			killed = cluster.Server(leader)
			if killed == nil {
				t.Fatalf("leader %q of %s is not one of the cluster's servers", leader, stream)
			}
			if err := killed.Proc.Kill(); err != nil {
				t.Fatal(err)
			}
			at := time.Now()
			newLeader, err := chaos.WaitNewLeader(ctx, js, stream, leader)
			if err != nil {
				t.Fatalf("phase %d: %v", phase, err)
			}
			elections = append(elections, time.Since(at))
			t.Logf("kill %d: %s led %s; %s leads after %s", phase+1, leader, stream, newLeader, time.Since(at).Round(10*time.Millisecond))
		}
		r := <-sent
		if r.err != nil {
			t.Fatalf("phase %d: %v", phase, r.err)
		}
		if err := <-pub; err != nil {
			t.Fatalf("phase %d: publishing alerts: %v", phase, err)
		}
		for l := range r.sent.Accepted {
			accepted[l] = true
		}
		retries += r.sent.Retries
		t.Logf("phase %d done at %s", phase, time.Since(start).Round(100*time.Millisecond))
		if killed != nil {
			if err := killed.Proc.Start(); err != nil {
				t.Fatal(err)
			}
			if err := killed.WaitHealthy(ctx); err != nil {
				t.Fatalf("phase %d: %v", phase, err)
			}
		}
	}
	v.Figure("%d lines posted (%d acknowledged, %d attempts sent again); %d alert publishes (%d retried)",
		len(lines), len(accepted), retries, len(input), pubRetries.Load())
	v.Figure("%d leader kills; election (kill → new leader in stream info): %s", len(elections), minMedianMax(elections))

	t.Logf("flows done at %s", time.Since(start).Round(100*time.Millisecond))
	// Consumers resume: the ingestor's detection consumer and the correlator drain.
	err = chaos.WaitDrained(ctx, js, natsx.StreamDCEvents, "dcingest-detect")
	v.Check("consumer dcingest-detect on DC_EVENTS resumed and drained", errs(err)...)
	err = chaos.WaitCorrelated(ctx, js, "correlator")
	v.Check("the correlator resumed and drained ALERTS and every COUNTS partition", errs(err)...)
	t.Logf("consumers drained at %s", time.Since(start).Round(100*time.Millisecond))
	wantIDs := map[string]bool{}
	for l := range accepted {
		wantIDs[chaos.EventMsgID([]byte(l))] = true
	}
	v.Check("DC_EVENTS holds every acknowledged line once (by Nats-Msg-Id) and nothing else",
		compareIDs("DC_EVENTS", msgIDs(t, ctx, js, natsx.StreamDCEvents, ""), wantIDs)...)
	wantAlerts := map[string]bool{}
	for _, m := range input {
		wantAlerts[m.MsgID] = true
	}
	got := msgIDs(t, ctx, js, natsx.StreamAlerts, "alerts.*.chaos")
	v.Check("ALERTS holds every acknowledged publish once", compareIDs("ALERTS", got, wantAlerts)...)
	problems, err := chaos.CheckCounts(ctx, js, users, want)
	if err != nil {
		t.Fatal(err)
	}
	v.Check("every user's badge counts equal the ground truth", problems...)
	if problems, err = chaos.CheckCorrelated(ctx, js, input); err != nil {
		t.Fatal(err)
	}
	v.Check("CORRELATED holds each (alert, version, user) exactly once", problems...)
	v.Check("every replica is current again", replicasCurrent(ctx, js, natsx.StreamDCEvents, natsx.StreamAlerts)...)
	t.Logf("checks done at %s", time.Since(start).Round(100*time.Millisecond))
	v.Check("dcingest stops cleanly", errs(dc.Stop(30*time.Second))...)
	v.Check("correlator stops cleanly", errs(corr.Stop(30*time.Second))...)
}

// replicasCurrent waits up to a minute for every replica of the streams to be current.
func replicasCurrent(ctx context.Context, js jetstream.JetStream, streams ...string) []string {
	deadline := time.Now().Add(time.Minute)
	for {
		var problems []string
		for _, name := range streams {
			st, err := js.Stream(ctx, name)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			ci := st.CachedInfo().Cluster
			if ci == nil || ci.Leader == "" || len(ci.Replicas) != 2 {
				problems = append(problems, fmt.Sprintf("%s: cluster %+v, want a leader and 2 replicas", name, ci))
				continue
			}
			for _, r := range ci.Replicas {
				if !r.Current || r.Offline {
					problems = append(problems, fmt.Sprintf("%s: replica %s current %v offline %v lag %d", name, r.Name, r.Current, r.Offline, r.Lag))
				}
			}
		}
		if len(problems) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return problems
		}
		time.Sleep(500 * time.Millisecond)
	}
}
