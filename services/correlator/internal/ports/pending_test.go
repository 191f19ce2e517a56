package ports_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/counts"
	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/correlator/internal/adapters"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
	"github.com/adjoin/adjoin/services/correlator/internal/ports"
)

var pgustavoEntity = &adjoinv1.Entity{
	Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: keyPgustavo, SamAccountName: "pgustavo",
	NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", Upn: "pgustavo@theshire.local",
	DistinguishedName: "CN=Gustavo Pedro,OU=DomainUsers,DC=theshire,DC=local",
}

// spyPending wraps a PendingStore, counting what the retrier does, and can act between a
// retried alert's handling and its Done.
type spyPending struct {
	ports.PendingStore
	mu         sync.Mutex
	rounds     int // IDs calls
	gets       map[string]int
	aroundDone func(id string, done func() error) error // nil: plain Done
}

func (s *spyPending) IDs(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	s.rounds++
	s.mu.Unlock()
	return s.PendingStore.IDs(ctx)
}

func (s *spyPending) Get(ctx context.Context, id string) (*adjoinv1.Alert, uint64, bool, error) {
	s.mu.Lock()
	s.gets[id]++
	s.mu.Unlock()
	return s.PendingStore.Get(ctx, id)
}

func (s *spyPending) Done(ctx context.Context, id string, rev uint64) error {
	s.mu.Lock()
	around := s.aroundDone
	s.mu.Unlock()
	if around == nil {
		return s.PendingStore.Done(ctx, id, rev)
	}
	return around(id, func() error { return s.PendingStore.Done(ctx, id, rev) })
}

func (s *spyPending) counts() (rounds int, gets map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gets = make(map[string]int, len(s.gets))
	for k, v := range s.gets {
		gets[k] = v
	}
	return s.rounds, gets
}

// pendingRig is one correlator over a real JetStream server, as cmd wires it.
type pendingRig struct {
	s       *natstest.Server
	ix      *directory.Index
	badges  jetstream.KeyValue
	pending adapters.PendingKV
	spy     *spyPending
	corr    *app.Correlator
}

func newPendingRig(t *testing.T, ix *directory.Index) *pendingRig {
	t.Helper()
	s := natstest.Start(t)
	badges := s.KV(t, natsx.BucketBadges)
	logons := domain.NewLogons(24 * time.Hour)
	pending := adapters.PendingKV{KV: s.KV(t, natsx.BucketPending)}
	startOwners(t, s.JS)
	return &pendingRig{
		s: s, ix: ix, badges: badges, pending: pending,
		spy: &spyPending{PendingStore: pending, gets: map[string]int{}},
		corr: &app.Correlator{
			Index: ix, Out: adapters.Correlated{JS: s.JS},
			Logons: logons, Window: time.Hour,
		},
	}
}

// startOwners runs the partition owners (stage 2) until the test ends.
func startOwners(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	owners := &ports.Counter{JS: js, Durable: "correlator", Log: zap.NewNop(), AckWait: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- owners.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the partition owners did not stop within 10s of cancel")
		}
	})
}

// handle does what the consumer does with an alert off ALERTS: correlate it, and keep it
// pending when a reference may still resolve.
func (r *pendingRig) handle(t *testing.T, a *adjoinv1.Alert) app.Outcome {
	t.Helper()
	ctx := context.Background()
	out, err := r.corr.Handle(ctx, a)
	if err != nil {
		t.Fatalf("Handle %s: %v", a.GetId(), err)
	}
	if out.Pending {
		if err := r.pending.Put(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// startRetrier runs the retrier until the test ends.
func (r *pendingRig) startRetrier(t *testing.T) {
	t.Helper()
	rt := &ports.Retrier{
		Pending: r.spy, Correlator: r.corr, Every: 50 * time.Millisecond, Log: zap.NewNop(),
		Changed: func() uint64 { return r.ix.Version() },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of cancel")
		}
	})
}

// waitRounds waits until the retrier completed n more rounds than it had when called.
func (r *pendingRig) waitRounds(t *testing.T, n int) {
	t.Helper()
	start, _ := r.spy.counts()
	eventually(t, 10*time.Second, func() error {
		// A round listed the ids at rounds; it is complete once the next one starts.
		if got, _ := r.spy.counts(); got < start+n+1 {
			return fmt.Errorf("%d rounds since, want %d", got-start, n)
		}
		return nil
	})
}

// countedOnce reports an error unless key counts alert id exactly once, at version.
func countedOnce(ctx context.Context, kv jetstream.KeyValue, key, id string, version int64) error {
	ec, err := entityCounts(ctx, kv, key)
	if err != nil {
		return err
	}
	n := 0
	for _, c := range ec.GetRecent() {
		if c.GetAlertId() == id {
			n++
			if c.GetVersion() != version {
				return fmt.Errorf("%s counts %s at version %d, want %d", key, id, c.GetVersion(), version)
			}
		}
	}
	if total := counts.Summarise(ec, adjoinv1.Side_SIDE_IDENTITY).GetTotal(); n != 1 || total != 1 {
		return fmt.Errorf("%s lists %s %d times among %d alerts counted, want once", key, id, n, total)
	}
	return nil
}

func stillPending(ctx context.Context, p adapters.PendingKV, id string) (*adjoinv1.Alert, bool, error) {
	a, _, ok, err := p.Get(ctx, id)
	return a, ok, err
}

func lateAlert(id string, version int64, status adjoinv1.AlertStatus, sam string) *adjoinv1.Alert {
	a := alert(id, version, status, &adjoinv1.EntityRef{
		Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, SamAccountName: sam, Domain: "THESHIRE",
		Role: adjoinv1.EntityRole_ENTITY_ROLE_ACTOR,
	})
	t0 := time.Date(2020, 8, 5, 6, 10, 2, 0, time.UTC)
	a.FirstActivity, a.LastActivity = timestamppb.New(t0), timestamppb.New(t0.Add(time.Minute))
	return a
}

// TestRetrierLateDirectory is the late-directory case: an alert about a user the directory does
// not know yet is kept pending, and counted once the directory learns the user.
func TestRetrierLateDirectory(t *testing.T) {
	ctx := context.Background()
	r := newPendingRig(t, directory.NewIndex())
	late := lateAlert("dcsync-late", 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW, "pgustavo")
	late.Entities[0].Sid = keyPgustavo
	never := lateAlert("frodo-1", 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW, "frodo")

	for _, a := range []*adjoinv1.Alert{late, never} {
		out := r.handle(t, a)
		if !out.Pending || !out.Unresolved || len(out.Entities) != 0 {
			t.Fatalf("Handle %s = %+v, want pending and unresolved", a.GetId(), out)
		}
	}
	cs, err := r.s.JS.Stream(ctx, natsx.StreamCorrelated)
	if err != nil {
		t.Fatal(err)
	}
	m, err := cs.GetLastMsgForSubject(ctx, natsx.SubjectUnresolved)
	if err != nil {
		t.Fatalf("nothing on %s: %v", natsx.SubjectUnresolved, err)
	}
	var c adjoinv1.CorrelatedAlert
	if err := natsx.Decode(m.Header, m.Data, &c); err != nil {
		t.Fatal(err)
	}
	if c.GetAlert().GetId() != never.GetId() || c.GetReason() == "" {
		t.Errorf("last unresolved = %s (%q), want %s with a reason", c.GetAlert().GetId(), c.GetReason(), never.GetId())
	}
	if ids, err := r.pending.IDs(ctx); err != nil || len(ids) != 2 {
		t.Fatalf("pending ids = %q, %v; want both alerts", ids, err)
	}

	r.startRetrier(t)
	r.waitRounds(t, 1)
	if _, err := entityCounts(ctx, r.badges, keyPgustavo); err == nil {
		t.Fatal("pgustavo counted before the directory knows him")
	}

	r.ix.Put(pgustavoEntity)
	eventually(t, 10*time.Second, func() error {
		if err := countedOnce(ctx, r.badges, keyPgustavo, late.GetId(), 1); err != nil {
			return err
		}
		if _, ok, err := stillPending(ctx, r.pending, late.GetId()); err != nil || ok {
			return fmt.Errorf("%s still pending (%v)", late.GetId(), err)
		}
		return nil
	})
	if _, err := cs.GetLastMsgForSubject(ctx, app.EntitySubject(adjoinv1.EntityKind_ENTITY_KIND_USER, keyPgustavo)); err != nil {
		t.Errorf("no correlated message for pgustavo: %v", err)
	}

	// The alert that still cannot resolve was retried after the change, and stays pending.
	eventually(t, 10*time.Second, func() error {
		if _, gets := r.spy.counts(); gets[never.GetId()] < 2 {
			return fmt.Errorf("%s retried %d times, want a retry after the change", never.GetId(), gets[never.GetId()])
		}
		return nil
	})
	r.waitRounds(t, 3)
	if a, ok, err := stillPending(ctx, r.pending, never.GetId()); err != nil || !ok || a.GetId() != never.GetId() {
		t.Errorf("%s pending = %v, %v; want it kept", never.GetId(), ok, err)
	}
	// Nothing changed since: the rounds after do not handle it again, and the count stays one.
	_, before := r.spy.counts()
	r.waitRounds(t, 3)
	if _, after := r.spy.counts(); after[never.GetId()] != before[never.GetId()] {
		t.Errorf("%s retried %d more times without any change", never.GetId(), after[never.GetId()]-before[never.GetId()])
	}
	if err := countedOnce(ctx, r.badges, keyPgustavo, late.GetId(), 1); err != nil {
		t.Error(err)
	}
}

// TestRetrierKeepsNewerVersion puts a newer version of an alert while the retrier handles the
// older one: Done is conditional on the revision read, so the newer version stays pending, and
// it is placed in turn.
func TestRetrierKeepsNewerVersion(t *testing.T) {
	ctx := context.Background()
	r := newPendingRig(t, directory.NewIndex())
	v1 := lateAlert("ptt-1", 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW, "pgustavo")
	v2 := lateAlert("ptt-1", 2, adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED, "pgustavo")
	r.handle(t, v1)

	interleaved := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	r.spy.aroundDone = func(id string, done func() error) error {
		first := false
		once.Do(func() { first = true })
		if !first {
			return done()
		}
		// The consumer handled v2 before the directory change (pending, unresolved) and
		// stores it now.
		if err := r.pending.Put(ctx, v2); err != nil {
			t.Error(err)
		}
		err := done()
		close(interleaved)
		<-release
		return err
	}
	r.startRetrier(t)
	r.waitRounds(t, 1)
	r.ix.Put(pgustavoEntity)

	select {
	case <-interleaved:
	case <-time.After(10 * time.Second):
		t.Fatal("the retrier never placed v1")
	}
	a, ok, err := stillPending(ctx, r.pending, v1.GetId())
	if err != nil || !ok || a.GetVersion() != 2 {
		t.Errorf("after Done of v1: pending %v at version %d (%v); want v2 kept", ok, a.GetVersion(), err)
	}
	eventually(t, 10*time.Second, func() error { return countedOnce(ctx, r.badges, keyPgustavo, v1.GetId(), 1) })
	close(release)

	// v2 became pending after the change and is new to the retrier: it is placed as well.
	eventually(t, 10*time.Second, func() error {
		if err := countedOnce(ctx, r.badges, keyPgustavo, v1.GetId(), 2); err != nil {
			return err
		}
		if _, ok, err := stillPending(ctx, r.pending, v1.GetId()); err != nil || ok {
			return fmt.Errorf("%s still pending (%v)", v1.GetId(), err)
		}
		return nil
	})
	ec, err := entityCounts(ctx, r.badges, keyPgustavo)
	if err != nil {
		t.Fatal(err)
	}
	if got := counts.Summarise(ec, adjoinv1.Side_SIDE_IDENTITY); got.GetTotal() != 1 || got.GetOpen() != 0 {
		t.Errorf("total/open = %d/%d, want 1/0 after the resolved version", got.GetTotal(), got.GetOpen())
	}
}

// TestRetrierNewAfterChange is the race the retrier guards against: the consumer handled an
// alert before a directory change and stored it as pending after it, so the directory version
// does not move again; the alert is still retried because it is new.
func TestRetrierNewAfterChange(t *testing.T) {
	ctx := context.Background()
	ix := directory.NewIndex()
	ix.Put(pgustavoEntity)
	r := newPendingRig(t, ix)
	r.startRetrier(t)
	r.waitRounds(t, 1)

	a := lateAlert("samr-1", 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW, "pgustavo")
	if err := r.pending.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	version := ix.Version()
	eventually(t, 10*time.Second, func() error {
		if err := countedOnce(ctx, r.badges, keyPgustavo, a.GetId(), 1); err != nil {
			return err
		}
		if _, ok, err := stillPending(ctx, r.pending, a.GetId()); err != nil || ok {
			return fmt.Errorf("%s still pending (%v)", a.GetId(), err)
		}
		return nil
	})
	if ix.Version() != version {
		t.Fatal("the directory changed during the test")
	}
}

// TestRetrierKeepsEveryVersionsReferences: a detector's later version names only the entities
// of its own emission (the next sprayed account). Both versions arrive while the directory
// knows neither user; once it learns them, each is counted, the first at the version the
// retrier placed.
func TestRetrierKeepsEveryVersionsReferences(t *testing.T) {
	ctx := context.Background()
	r := newPendingRig(t, directory.NewIndex())
	v1 := lateAlert("spray-1", 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW, "pgustavo")
	v2 := lateAlert("spray-1", 2, adjoinv1.AlertStatus_ALERT_STATUS_NEW, "sbeavers")
	for _, a := range []*adjoinv1.Alert{v1, v2} {
		if out := r.handle(t, a); !out.Pending {
			t.Fatalf("version %d: not pending with an empty directory", a.GetVersion())
		}
	}
	a, ok, err := stillPending(ctx, r.pending, v1.GetId())
	if err != nil || !ok || a.GetVersion() != 2 || len(a.GetEntities()) != 2 {
		t.Fatalf("pending %v: version %d naming %v (%v); want version 2 naming both users", ok, a.GetVersion(), a.GetEntities(), err)
	}
	r.startRetrier(t)
	sbeavers := &adjoinv1.Entity{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: "S-1-5-21-3669966080-2286457517-972388166-1105",
		SamAccountName: "sbeavers", NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local"}
	r.ix.Put(pgustavoEntity)
	r.ix.Put(sbeavers)
	eventually(t, 10*time.Second, func() error {
		for _, key := range []string{keyPgustavo, sbeavers.GetSid()} {
			if err := countedOnce(ctx, r.badges, key, v1.GetId(), 2); err != nil {
				return err
			}
		}
		if _, ok, err := stillPending(ctx, r.pending, v1.GetId()); err != nil || ok {
			return fmt.Errorf("%s still pending (%v)", v1.GetId(), err)
		}
		return nil
	})
}
