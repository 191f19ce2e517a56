package chaos_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/adjoin/chaos"
)

// takeoverAfter is both correlators' --takeover-after in scenario 7: how long a killed owner's
// partitions wait before another client takes them over.
const takeoverAfter = 2 * time.Second

// TestPartitionOwnerKill is scenario 7: two correlators share one JetStream server while
// generated alerts (duplicates and updates, many alerts on few users, and a few hot users with
// thousands of alerts each) are counted; the instance owning COUNTS partitions is SIGKILLed
// while it holds a batch unacknowledged, many times, and started again (at once, or once its
// partitions changed hands) so the other takes its partitions over (snapshot, replay, the killed batch redelivered). At the end the
// counts equal the ground truth, CORRELATED holds each copy once, every record is at most
// 4 KiB and nothing is dead-lettered.
func TestPartitionOwnerKill(t *testing.T) {
	b := setup(t)
	v := chaos.NewVerdict(t, "scenario 7: partition owner SIGKILL mid-batch, another takes over")
	var (
		alerts    = chaos.Pick(mode, 16000, 60000) // on the few users
		few       = chaos.Pick(mode, 20, 40)
		hot       = chaos.Pick(mode, 2, 4)
		hotAlerts = chaos.Pick(mode, 4000, 10000) // on each hot user
		minKills  = chaos.Pick(mode, 6, 25)
		killFor   = chaos.Pick(mode, 40*time.Second, 6*time.Minute)
		seed      = uint64(77)
	)
	ctx, cancel := context.WithTimeout(context.Background(), chaos.Pick(mode, 3*time.Minute, 15*time.Minute))
	defer cancel()
	start := time.Now()
	dir, srv := startSingle(t, ctx, b)
	args := []string{"--ack-wait", "4s", "--takeover-after", takeoverAfter.String()}
	var corrs [2]*chaos.Service
	for i := range corrs {
		var err error
		if corrs[i], err = chaos.NewCorrelator(b.Correlator, dir, srv.URL(), 1, args...); err != nil {
			t.Fatal(err)
		}
		corrs[i].Name = fmt.Sprintf("correlator-%c", 'a'+i)
		corrs[i].Log = filepath.Join(dir, corrs[i].Name+".log")
	}
	stopAtEnd(t, corrs[0].Proc, corrs[1].Proc, srv.Proc)
	js := connect(t, srv.URL())
	provision(t, ctx, js, 1)
	users, err := chaos.PutUsers(ctx, js, hot+few)
	if err != nil {
		t.Fatal(err)
	}
	spread := chaos.AlertLoad{Alerts: alerts, DupRate: 0.01, UpdateRate: 0.05, Seed: seed, Prefix: "o"}.Generate(users[hot:])
	heavy := chaos.AlertLoad{Alerts: hot * hotAlerts, DupRate: 0.01, UpdateRate: 0.05, Seed: seed + 1, Prefix: "h"}.Generate(users[:hot])
	input := append(append([]chaos.AlertMsg(nil), spread...), heavy...)
	want := chaos.GroundTruth(input)
	v.Figure("input: %d publishes (%d alerts on %d users, %d on each of %d hot users; %d duplicates, %d updates), seed %d",
		len(input), alerts, few, hotAlerts, hot, chaos.CountKind(input, chaos.Duplicate), chaos.CountKind(input, chaos.Update), seed)

	for _, c := range corrs {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	parts, err := chaos.Partitions(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	// The two loads are published side by side, as two sources would.
	published := make(chan error, 2)
	for _, in := range [][]chaos.AlertMsg{spread, heavy} {
		go func() {
			_, err := chaos.PublishAll(ctx, js, in)
			published <- err
		}()
	}
	w := watchPins(ctx, t, js, parts)

	var (
		kills, mid, pubDone int
		byOther             int // kills after which the instance left running took partitions over
		takeovers           []time.Duration
	)
	checkPublished := func(block bool) {
		for pubDone < 2 {
			var err error
			if block {
				err = <-published
			} else {
				select {
				case err = <-published:
				default:
					return
				}
			}
			if err != nil {
				t.Fatalf("publishing the input: %v", err)
			}
			pubDone++
		}
	}
	// Kill phase: until the input is published and counted and minKills kills were made, or
	// for killFor at most.
	for time.Since(start) < killFor && (kills < minKills || pubDone < 2 || w.left() > 0) {
		checkPublished(false)
		// The owner to kill: the instance owning the most partitions, at an instant when a
		// partition holds a batch unacknowledged.
		victim, other, held := pickOwner(ctx, t, corrs, w)
		if victim == nil {
			if pubDone == 2 && w.left() == 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		otherBefore := owned(ctx, other)
		before := w.pins()
		at := time.Now()
		if err := victim.Kill(); err != nil {
			t.Fatalf("kill %d: %v\n%s", kills+1, err, victim.LogTail(4096))
		}
		kills++
		// Every other kill (the first among them) restarts the victim only once its partitions
		// changed hands, so the instance left running is the only one that can take them: the
		// others restart it at once, and its next life races the other instance for them.
		atOnce := kills%2 == 0
		restart := func() {
			if err := victim.Start(); err != nil {
				t.Fatal(err)
			}
		}
		if atOnce {
			restart()
		}
		// The victim's partitions are the ones whose pin changes: wait for the first.
		moved, took := w.waitMoved(ctx, before, at, 3*takeoverAfter+10*time.Second)
		if len(moved) == 0 {
			t.Logf("kill %d: no partition changed hands within %s", kills, 3*takeoverAfter+10*time.Second)
			if !atOnce {
				restart()
			}
			continue
		}
		takeovers = append(takeovers, took)
		for _, p := range moved {
			if held[p] > 0 {
				mid++
				break
			}
		}
		// Did the instance left running take any? Its gauge rises once it loaded the state.
		deadline := time.Now().Add(3*takeoverAfter + 10*time.Second)
		if atOnce {
			deadline = time.Now().Add(3 * time.Second)
		}
		for time.Now().Before(deadline) && owned(ctx, other) <= otherBefore {
			time.Sleep(100 * time.Millisecond)
		}
		if owned(ctx, other) > otherBefore {
			byOther++
		}
		if !atOnce {
			restart()
		}
		t.Logf("kill %d at %s: %s held %v unacknowledged; partitions %v changed hands after %s; %d counts left",
			kills, time.Since(start).Round(time.Millisecond), victim.Name, held, moved, took.Round(10*time.Millisecond), w.left())
	}
	killPhase := time.Since(start)
	w.stop()
	checkPublished(true)

	for _, c := range corrs { // the last one restarted is up before it is stopped
		if err := c.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := chaos.WaitCorrelated(ctx, js, "correlator"); err != nil {
		t.Fatal(err)
	}
	drained := time.Since(start)
	for _, c := range corrs {
		v.Check(c.Name+" stops cleanly on SIGTERM", errs(c.Stop(20*time.Second))...)
	}
	v.Checkf("ALERTS holds every publish once", streamMsgs(t, ctx, js, natsx.StreamAlerts, "") == uint64(len(input)),
		"ALERTS holds %d messages, want %d", streamMsgs(t, ctx, js, natsx.StreamAlerts, ""), len(input))
	problems, err := chaos.CheckCounts(ctx, js, users, want)
	if err != nil {
		t.Fatal(err)
	}
	v.Check("every user's badge counts equal the ground truth", problems...)
	if problems, err = chaos.CheckCorrelated(ctx, js, input); err != nil {
		t.Fatal(err)
	}
	v.Check("CORRELATED holds each (alert, version, user) exactly once", problems...)
	largest, problems, err := chaos.CheckRecordSizes(ctx, js, 4<<10)
	if err != nil {
		t.Fatal(err)
	}
	v.Check("every record written to adjoin_badges is at most 4 KiB", problems...)
	dl := streamMsgs(t, ctx, js, natsx.StreamDeadLetter, "")
	v.Checkf("nothing dead-lettered", dl == 0, "DEADLETTER holds %d messages", dl)
	v.Checkf("kills landed while the owner held a batch unacknowledged", mid > 0, "none of %d kills did", kills)
	v.Checkf("the instance left running took partitions over", byOther > 0, "it took none over after %d kills", kills)

	counts := streamMsgs(t, ctx, js, natsx.StreamCounts, "")
	states, err := chaos.PartitionStates(ctx, js, "correlator", parts)
	if err != nil {
		t.Fatal(err)
	}
	var deliveries uint64
	for _, s := range states {
		deliveries += s.Deliveries
	}
	v.Figure("%d owner SIGKILLs (%d with a batch in hand) in %s; %d takeovers observed (pin changes), after %d kills the other instance took partitions",
		kills, mid, killPhase.Round(time.Second), w.changes(), byOther)
	v.Figure("kill → first partition changing hands (--takeover-after %s): %s", takeoverAfter, minMedianMax(takeovers))
	v.Figure("COUNTS: %d messages on %d partitions, %d deliveries (%d beyond one each); drained at %s; largest record %d B",
		counts, parts, deliveries, deliveries-counts, drained.Round(time.Second), largest)
}

// pickOwner returns the correlator owning the most partitions (by its
// adjoin_counter_partitions_owned gauge) and the other one, once some partition holds messages
// unacknowledged, with what each partition held then; nil when none does now.
func pickOwner(ctx context.Context, t *testing.T, corrs [2]*chaos.Service, w *pinWatch) (victim, other *chaos.Service, held []uint64) {
	t.Helper()
	states := w.snapshot()
	held = make([]uint64, len(states))
	inHand := false
	for p, s := range states {
		held[p] = s.AckPending
		inHand = inHand || (s.AckPending > 0 && s.Pin != "")
	}
	if !inHand {
		return nil, nil, nil
	}
	a, b := owned(ctx, corrs[0]), owned(ctx, corrs[1])
	switch {
	case a <= 0 && b <= 0:
		return nil, nil, nil
	case a >= b:
		return corrs[0], corrs[1], held
	default:
		return corrs[1], corrs[0], held
	}
}

// owned is how many partitions a correlator says it owns (-1 when it does not answer).
func owned(ctx context.Context, s *chaos.Service) float64 {
	if !s.Running() {
		return -1
	}
	n, err := s.Metric(ctx, "adjoin_counter_partitions_owned")
	if err != nil {
		return -1
	}
	return n
}

// pinWatch polls the partition consumers, keeping their latest states and counting the times
// a partition was pinned to another client than the one before (takeovers), an unpinned
// moment in between or not.
type pinWatch struct {
	mu      sync.Mutex
	states  []chaos.PartitionState
	lastPin []string    // per partition, the last client it was pinned to
	changed []time.Time // per partition, the last time it was pinned to another client
	count   int
	cancel  context.CancelFunc
	done    chan struct{}
}

func watchPins(ctx context.Context, t *testing.T, js jetstream.JetStream, parts int) *pinWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	w := &pinWatch{states: make([]chaos.PartitionState, parts), lastPin: make([]string, parts), changed: make([]time.Time, parts),
		cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			states, err := chaos.PartitionStates(ctx, js, "correlator", parts)
			if err == nil {
				w.mu.Lock()
				for p, s := range states {
					if s.Pin == "" || s.Pin == w.lastPin[p] {
						continue
					}
					if w.lastPin[p] != "" {
						w.count++
					}
					w.lastPin[p], w.changed[p] = s.Pin, time.Now()
				}
				w.states = states
				w.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(w.stop)
	return w
}

func (w *pinWatch) stop() {
	w.cancel()
	<-w.done
}

func (w *pinWatch) snapshot() []chaos.PartitionState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]chaos.PartitionState(nil), w.states...)
}

// changes is the number of takeovers seen.
func (w *pinWatch) changes() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count
}

// left is what the partition consumers have yet to deliver or see acknowledged.
func (w *pinWatch) left() uint64 {
	var n uint64
	for _, s := range w.snapshot() {
		n += s.Pending + s.AckPending
	}
	return n
}

// pins is the last client each partition was pinned to.
func (w *pinWatch) pins() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lastPin...)
}

// waitMoved waits up to limit for partitions pinned in before to be pinned to another client,
// and returns them with the time from since to the first change; nil when none moved.
func (w *pinWatch) waitMoved(ctx context.Context, before []string, since time.Time, limit time.Duration) ([]int, time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		if moved, _ := w.movedSince(before); len(moved) > 0 {
			// Give the other partitions of the killed owner the same time to move.
			time.Sleep(time.Second)
			moved, first := w.movedSince(before)
			return moved, first.Sub(since)
		}
	}
	return nil, 0
}

// movedSince lists the partitions pinned to another client than in before, and when the
// first of them was.
func (w *pinWatch) movedSince(before []string) (moved []int, first time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for p, pin := range w.lastPin {
		if before[p] != "" && pin != before[p] {
			moved = append(moved, p)
			if c := w.changed[p]; first.IsZero() || c.Before(first) {
				first = c
			}
		}
	}
	return moved, first
}
