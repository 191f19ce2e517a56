package chaos_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/adjoin/chaos"
)

// TestNATSRestartDuringIntake is scenario 2: real recordings are posted to the real DC
// ingestor's HTTP intake by two senders that send again every batch not answered 200, while
// the nats-server process is SIGKILLed and started again on the same data; at the end
// DC_EVENTS holds every line of every acknowledged batch once (by count and by Nats-Msg-Id),
// the lines of batches that were sent again once, and nothing else.
func TestNATSRestartDuringIntake(t *testing.T) {
	b := setup(t)
	v := chaos.NewVerdict(t, "scenario 2: nats-server SIGKILL and restart during HTTP intake")
	var (
		nLines = chaos.Pick(mode, 4000, 0) // 0: every distinct line of the recordings
		kills  = chaos.Pick(mode, 3, 15)
		batch  = 100
	)
	ctx, cancel := context.WithTimeout(context.Background(), chaos.Pick(mode, 3*time.Minute, 10*time.Minute))
	defer cancel()
	lines, err := chaos.DistinctLines(nLines, recordings(t)...)
	if err != nil {
		t.Fatal(err)
	}
	dir, srv := startSingle(t, ctx, b)
	dc, err := chaos.NewDCIngest(b.DCIngest, dir, srv.URL(), 1)
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, dc.Proc, srv.Proc)
	if err := dc.Start(); err != nil {
		t.Fatal(err)
	}
	if err := dc.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	js := connect(t, srv.URL())

	// Two senders, each with half of the lines, so batches are in flight at every kill.
	var acked atomic.Int64
	halves := [][][]byte{lines[:len(lines)/2], lines[len(lines)/2:]}
	totalBatches := int64((len(halves[0])+batch-1)/batch + (len(halves[1])+batch-1)/batch)
	results := make([]chaos.Sent, 2)
	sendErrs := make([]error, 2)
	var wg sync.WaitGroup
	for i, part := range halves {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &chaos.Sender{URL: dc.URL() + "/v1/events", Batch: batch, Progress: func(int) { acked.Add(1) }}
			results[i], sendErrs[i] = s.Send(ctx, part)
		}()
	}
	sending := make(chan struct{})
	go func() { wg.Wait(); close(sending) }()

	// Kill k happens once k/(kills+1) of the batches were acknowledged, at a random instant
	// after that; the server stays down a random while, then starts on the same store.
	rng := rand.New(rand.NewPCG(7, 11))
	var downs, recoveries []time.Duration
	done := 0
	for k := 1; k <= kills; k++ {
		for acked.Load() < int64(k)*totalBatches/int64(kills+1) && !chaos.Closed(sending) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		if chaos.Closed(sending) {
			break
		}
		sleepRandom(rng, 0, 300*time.Millisecond)
		if err := srv.Proc.Kill(); err != nil {
			t.Fatal(err)
		}
		done++
		killed := time.Now()
		sleepRandom(rng, 200*time.Millisecond, 2*time.Second)
		if err := srv.Proc.Start(); err != nil {
			t.Fatal(err)
		}
		downs = append(downs, time.Since(killed))
		if err := srv.WaitHealthy(ctx); err != nil {
			t.Fatal(err)
		}
		recoveries = append(recoveries, time.Since(killed))
		t.Logf("kill %d at %d/%d batches acknowledged: down %s, healthy again after %s", k, acked.Load(), totalBatches,
			downs[len(downs)-1].Round(time.Millisecond), recoveries[len(recoveries)-1].Round(time.Millisecond))
	}
	<-sending
	for _, err := range sendErrs {
		if err != nil {
			t.Fatal(err)
		}
	}
	accepted := map[string]bool{}
	retries, retried, dups, rejected := 0, 0, 0, 0
	for _, r := range results {
		for l := range r.Accepted {
			accepted[l] = true
		}
		retries += r.Retries
		retried += r.RetriedAccepted
		dups += r.Duplicates
		for _, n := range r.Rejected {
			rejected += n
		}
	}
	v.Figure("%d distinct lines of real recordings in %d batches: %d accepted, %d rejected by the parser (not events)",
		len(lines), totalBatches, len(accepted), rejected)
	v.Figure("%d nats-server SIGKILLs; down %s; healthy again %s", done, minMedianMax(downs), minMedianMax(recoveries))
	v.Figure("%d attempts not answered 200 and sent again; %d accepted lines came from a batch sent more than once, %d of them reported as already stored",
		retries, retried, dups)

	want := map[string]bool{}
	for l := range accepted {
		want[chaos.EventMsgID([]byte(l))] = true
	}
	got := msgIDs(t, ctx, js, natsx.StreamDCEvents, "")
	v.Check("every acknowledged line is in DC_EVENTS once, by Nats-Msg-Id, and nothing else is", compareIDs("DC_EVENTS", got, want)...)
	n := streamMsgs(t, ctx, js, natsx.StreamDCEvents, "")
	v.Checkf("DC_EVENTS holds as many events as distinct acknowledged lines", n == uint64(len(accepted)),
		"DC_EVENTS holds %d messages, want %d", n, len(accepted))
	v.Checkf("every planned kill landed during ingestion", done == kills, "%d of %d kills made before the senders finished", done, kills)
	v.Checkf("the kills cost acknowledgements (batches were sent again)", retries > 0, "no batch had to be sent again")
	v.Check("the ingestor outlived every NATS restart and stops cleanly", errs(dc.Stop(30*time.Second))...)
}
