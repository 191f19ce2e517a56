package ports_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/correlator/internal/adapters"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
	"github.com/adjoin/adjoin/services/correlator/internal/ports"
)

const user = adjoinv1.EntityKind_ENTITY_KIND_USER

// wantIncident waits until the stored incident named after alert first holds want, and
// checks that it says what one window holding every copy in copies would group: a builder
// that restarted or took over builds what one that ran all along would.
func (r *builderRig) wantIncident(t *testing.T, first string, copies []*adjoinv1.CorrelatedAlert, want ...string) {
	t.Helper()
	id := entity.HashID("incident", first)
	var inc *adjoinv1.Incident
	eventually(t, 20*time.Second, func() error {
		var err error
		if inc, _, err = storedIncident(r.ctx, r.incidents, id); err != nil {
			return err
		}
		if !slices.Equal(inc.GetAlertIds(), want) {
			return fmt.Errorf("incident %s holds %q, want %q", id, inc.GetAlertIds(), want)
		}
		return nil
	})
	w := domain.NewAlertWindow(0)
	for _, c := range copies {
		a, _ := domain.AlertOf(c)
		w.Add(a)
	}
	g := &domain.Grouper{Window: time.Hour, Logons: domain.NewLogons(0), Source: adapters.GroupSource{Index: r.ix}, Alerts: w}
	last := copies[len(copies)-1]
	if ref := g.Group(last.GetAlert().GetId(), []string{last.GetEntityKey()}); !domain.SameIncident(inc, ref) {
		t.Errorf("incident built:\n %v\none window grouping every alert:\n %v", inc, ref)
	}
}

// TestIncidentBuilderRebuildsAfterRestart: a builder stopped, and another started with an
// empty window, replays CORRELATED before it takes messages: an alert linking to alerts the
// first one handled joins their incident, as it would have had the first one gone on.
func TestIncidentBuilderRebuildsAfterRestart(t *testing.T) {
	r := newBuilderRig(t, shireIndex(0))
	// A restarted builder gets the messages once the stopped one's pin expires.
	builder := func() *ports.IncidentBuilder {
		b := r.builder(nil)
		b.PinnedTTL = 2 * time.Second
		return b
	}
	stop := r.start(t, builder())
	// A chain on one user, each alert 50 minutes after the one before: the first and the last
	// link only through the middle one.
	copies := []*adjoinv1.CorrelatedAlert{
		r.correlate(t, "a", keyPgustavo, user, builderT0),
		r.correlate(t, "b", keyPgustavo, user, builderT0.Add(50*time.Minute)),
	}
	r.wantIncident(t, "a", copies, "a", "b")
	eventually(t, 10*time.Second, func() error { return consumerDrained(r.ctx, r.s.JS, natsx.StreamCorrelated, "incidents") })
	stop()

	r.run(t, builder())
	copies = append(copies, r.correlate(t, "c", keyPgustavo, user, builderT0.Add(100*time.Minute)))
	r.wantIncident(t, "a", copies, "a", "b", "c")
	if _, err := r.incidents.Get(r.ctx, entity.HashID("incident", "c")); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("incident named after c, which was never the earliest: %v", err)
	}
}

// TestIncidentBuilderTakesOver: two builders on one durable; the pinned one handles an alert
// the other never sees, then stops; when the other takes over it catches up on CORRELATED
// first, so the next alert joins the incident of both earlier ones.
func TestIncidentBuilderTakesOver(t *testing.T) {
	r := newBuilderRig(t, shireIndex(0))
	var handled [2]atomic.Int64
	builders := [2]*ports.IncidentBuilder{}
	core, logs := observer.New(zap.InfoLevel)
	for i := range builders {
		builders[i] = r.builder(countingStore{IncidentStore: r.store(), n: &handled[i]})
		builders[i].PinnedTTL = 2 * time.Second
	}
	builders[1].Log = zap.New(core)
	stopFirst := r.start(t, builders[0])
	t.Cleanup(stopFirst)
	copies := []*adjoinv1.CorrelatedAlert{r.correlate(t, "a", keyPgustavo, user, builderT0)}
	r.wantIncident(t, "a", copies, "a") // the first builder is pinned
	r.run(t, builders[1])               // replays a, then waits for the pin
	eventually(t, 10*time.Second, func() error {
		if logs.FilterMessage("incident window caught up").Len() == 0 {
			return errors.New("the second builder has not replayed yet")
		}
		return nil
	})
	copies = append(copies, r.correlate(t, "b", keyPgustavo, user, builderT0.Add(50*time.Minute)))
	r.wantIncident(t, "a", copies, "a", "b")
	if handled[1].Load() != 0 {
		t.Fatalf("the second builder wrote %d times while the first was pinned", handled[1].Load())
	}
	stopFirst()
	copies = append(copies, r.correlate(t, "c", keyPgustavo, user, builderT0.Add(100*time.Minute)))
	r.wantIncident(t, "a", copies, "a", "b", "c")
	if handled[1].Load() == 0 {
		t.Error("the second builder never wrote")
	}
}

// BenchmarkIncidentBuilderReplay times the replay a builder makes when it starts: 20,000
// correlated copies on 1,000 users read into an empty window (msgs/s: how long a takeover
// takes per message of the incident memory).
func BenchmarkIncidentBuilderReplay(b *testing.B) {
	const n, users = 20000, 1000
	s := natstest.Start(b)
	ctx := context.Background()
	batch := natsx.NewBatch(s.JS)
	for i := range n {
		at := builderT0.Add(time.Duration(i) * time.Second)
		a := &adjoinv1.Alert{Id: fmt.Sprintf("alert-%06d", i), Side: adjoinv1.Side_SIDE_IDENTITY, Version: 1,
			FirstActivity: timestamppb.New(at), LastActivity: timestamppb.New(at)}
		key := userKey(i % users)
		msg, err := natsx.NewMsg(app.EntitySubject(user, key), a.GetId(), &adjoinv1.CorrelatedAlert{Alert: a, Resolutions: resolvedTo(key), EntityKey: key})
		if err == nil {
			err = batch.Add(msg)
		}
		if err == nil && batch.Len() == 1000 {
			_, err = batch.Wait(ctx)
			batch = natsx.NewBatch(s.JS)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if _, err := batch.Wait(ctx); err != nil {
		b.Fatal(err)
	}
	ix := shireIndex(0)
	store := adapters.Incidents{KV: s.KV(b, natsx.BucketIncidents), JS: s.JS}
	var took time.Duration
	for b.Loop() {
		core, logs := observer.New(zap.InfoLevel)
		w := domain.NewAlertWindow(0)
		bl := &ports.IncidentBuilder{JS: s.JS, Durable: "incidents", Log: zap.New(core), Store: store,
			Grouper: &domain.Grouper{Window: time.Hour, Logons: domain.NewLogons(0), Source: adapters.GroupSource{Index: ix}, Alerts: w}}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- bl.Run(rctx) }()
		for logs.FilterMessage("incident window caught up").Len() == 0 {
			time.Sleep(time.Millisecond)
		}
		took += time.Since(start)
		cancel()
		if err := <-done; err != nil || w.Len() != n {
			b.Fatalf("Run = %v; window holds %d alerts, want %d", err, w.Len(), n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/took.Seconds(), "msgs/s")
}

// TestIncidentBuilderStandbyFollows: a builder that is not pinned catches up on its own every
// idleCatchUp, so a takeover replays seconds of CORRELATED, not all since it started.
func TestIncidentBuilderStandbyFollows(t *testing.T) {
	r := newBuilderRig(t, shireIndex(0))
	r.run(t, r.builder(nil))
	r.wantIncident(t, "a", []*adjoinv1.CorrelatedAlert{r.correlate(t, "a", keyPgustavo, user, builderT0)}, "a")
	core, logs := observer.New(zap.DebugLevel)
	standby := r.builder(nil)
	standby.Log = zap.New(core)
	r.run(t, standby)
	eventually(t, 10*time.Second, func() error {
		if logs.FilterMessage("incident window caught up").Len() == 0 {
			return errors.New("the standby has not replayed yet")
		}
		return nil
	})
	r.correlate(t, "b", keyWorkstation, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, builderT0)
	eventually(t, 20*time.Second, func() error {
		for _, e := range logs.FilterMessage("incident window caught up").AllUntimed() {
			if f := e.ContextMap(); f["why"] == "idle" && f["changed"] == int64(1) && f["alerts_held"] == int64(2) {
				return nil
			}
		}
		return errors.New("the standby has not caught up on b while idle")
	})
}

// TestIncidentBuilderStartDelay: with a StartDelay, a restarted builder that receives nothing
// replays CORRELATED only once the delay has passed, and one that receives an alert first
// replays at once, before grouping it: the alert joins the incident of those handled before
// the restart all the same.
func TestIncidentBuilderStartDelay(t *testing.T) {
	r := newBuilderRig(t, shireIndex(0))
	first := r.builder(nil)
	first.PinnedTTL = 2 * time.Second
	stop := r.start(t, first)
	copies := []*adjoinv1.CorrelatedAlert{r.correlate(t, "a", keyPgustavo, user, builderT0)}
	r.wantIncident(t, "a", copies, "a")
	eventually(t, 10*time.Second, func() error { return consumerDrained(r.ctx, r.s.JS, natsx.StreamCorrelated, "incidents") })
	stop()

	replays := func(b *ports.IncidentBuilder) *observer.ObservedLogs {
		core, logs := observer.New(zap.InfoLevel)
		b.Log = zap.New(core)
		return logs
	}
	quiet := r.builder(nil) // the durable has nothing pending: no batch comes
	quiet.StartDelay = 3 * time.Second
	quietLogs := replays(quiet)
	began := time.Now()
	stopQuiet := r.start(t, quiet)
	time.Sleep(time.Second)
	if n := quietLogs.FilterMessage("incident window caught up").Len(); n != 0 {
		t.Fatalf("%d replays within a second of the start, StartDelay 3s", n)
	}
	eventually(t, 10*time.Second, func() error {
		if quietLogs.FilterMessage("incident window caught up").FilterField(zap.String("why", "start")).Len() == 0 {
			return errors.New("no start replay yet")
		}
		return nil
	})
	if took := time.Since(began); took < 3*time.Second {
		t.Errorf("the start replay came %s after the start, before StartDelay", took)
	}

	stopQuiet() // it holds the pin: the next builder gets the alert

	busy := r.builder(nil)
	busy.StartDelay, busy.PinnedTTL = time.Hour, 2*time.Second
	busyLogs := replays(busy)
	r.run(t, busy)
	copies = append(copies, r.correlate(t, "b", keyPgustavo, user, builderT0.Add(50*time.Minute)))
	r.wantIncident(t, "a", copies, "a", "b")
	if busyLogs.FilterMessage("incident window caught up").FilterField(zap.String("why", "start")).Len() != 1 {
		t.Errorf("replays of the builder an alert came to: %v", busyLogs.All())
	}
}
