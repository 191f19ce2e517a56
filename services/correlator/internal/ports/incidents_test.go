package ports_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/correlator/internal/adapters"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
	"github.com/adjoin/adjoin/services/correlator/internal/ports"
)

// consumerDrained reports an error until durable on stream has nothing left to deliver or ack.
func consumerDrained(ctx context.Context, js jetstream.JetStream, stream, durable string) error {
	c, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		return err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	if info.NumPending != 0 || info.NumAckPending != 0 {
		return fmt.Errorf("consumer %s: %d pending, %d awaiting ack", durable, info.NumPending, info.NumAckPending)
	}
	return nil
}

// storedIncident returns the incident stored under id and its revision.
func storedIncident(ctx context.Context, kv jetstream.KeyValue, id string) (*adjoinv1.Incident, uint64, error) {
	e, err := kv.Get(ctx, id)
	if err != nil {
		return nil, 0, fmt.Errorf("incident %s: %w", id, err)
	}
	var inc adjoinv1.Incident
	if err := natsx.Decode(nil, e.Value(), &inc); err != nil {
		return nil, 0, err
	}
	return &inc, e.Revision(), nil
}

func streamMsgs(ctx context.Context, t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestIncidentBuilder follows CORRELATED messages and
// checks the incidents in adjoin_incidents and on INCIDENTS: creation, no republication when
// nothing changed, and the merge of two incidents by a bridging alert.
func TestIncidentBuilder(t *testing.T) {
	r := newBuilderRig(t, shireIndex(0))
	s, ctx, incKV := r.s, r.ctx, r.incidents
	r.run(t, r.builder(nil))

	t0 := time.Date(2020, 9, 22, 2, 39, 10, 0, time.UTC)
	mk := func(id string, side adjoinv1.Side, at time.Time) *adjoinv1.Alert {
		return &adjoinv1.Alert{
			Id: id, Side: side, Severity: adjoinv1.Severity_SEVERITY_HIGH, Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW, Version: 1,
			FirstActivity: timestamppb.New(at), LastActivity: timestamppb.New(at.Add(time.Second)),
		}
	}
	// correlate publishes the correlated message of an alert resolved to keys, as the
	// correlator does, for the first key under msgID.
	correlate := func(a *adjoinv1.Alert, msgID string, keys ...string) {
		t.Helper()
		kind := adjoinv1.EntityKind_ENTITY_KIND_USER
		if keys[0] == keyWorkstation {
			kind = adjoinv1.EntityKind_ENTITY_KIND_COMPUTER
		}
		publish(t, s.JS, app.EntitySubject(kind, keys[0]), msgID,
			&adjoinv1.CorrelatedAlert{Alert: a, Resolutions: resolvedTo(keys...), EntityKey: keys[0], CorrelatedTime: timestamppb.Now()})
	}
	// incidentHolds waits until incident id lists want.
	incidentHolds := func(id string, want ...string) *adjoinv1.Incident {
		t.Helper()
		var inc *adjoinv1.Incident
		eventually(t, 10*time.Second, func() error {
			var err error
			if inc, _, err = storedIncident(ctx, incKV, id); err != nil {
				return err
			}
			if !slices.Equal(inc.GetAlertIds(), want) {
				return fmt.Errorf("incident %s holds %q, want %q", id, inc.GetAlertIds(), want)
			}
			return nil
		})
		return inc
	}
	published := func(id string) *adjoinv1.Incident {
		t.Helper()
		st, err := s.JS.Stream(ctx, natsx.StreamIncidents)
		if err != nil {
			t.Fatal(err)
		}
		m, err := st.GetLastMsgForSubject(ctx, natsx.SubjectIncidents+"."+id)
		if err != nil {
			t.Fatalf("nothing on %s.%s: %v", natsx.SubjectIncidents, id, err)
		}
		var inc adjoinv1.Incident
		if err := natsx.Decode(m.Header, m.Data, &inc); err != nil {
			t.Fatal(err)
		}
		return &inc
	}

	ptt := mk("ptt", adjoinv1.Side_SIDE_IDENTITY, t0)
	rubeus := mk("rubeus", adjoinv1.Side_SIDE_ENDPOINT, t0.Add(10*time.Minute))
	idPtt, idRubeus := entity.HashID("incident", "ptt"), entity.HashID("incident", "rubeus")

	correlate(ptt, "ptt@user", keyPgustavo)
	correlate(rubeus, "rubeus@host", keyWorkstation)
	incidentHolds(idPtt, "ptt")
	incidentHolds(idRubeus, "rubeus")
	for _, id := range []string{idPtt, idRubeus} {
		if got := published(id); got.GetId() != id || got.GetUpdatedTime() == nil {
			t.Errorf("published incident %s: %v", id, got)
		}
	}
	eventually(t, 10*time.Second, func() error { return consumerDrained(ctx, s.JS, natsx.StreamCorrelated, "incidents") })

	t.Run("re-processing publishes nothing new", func(t *testing.T) {
		before := streamMsgs(ctx, t, s.JS, natsx.StreamIncidents)
		_, rev, err := storedIncident(ctx, incKV, idPtt)
		if err != nil {
			t.Fatal(err)
		}
		// The same correlated alert again, under a new message id so the stream keeps it.
		correlate(ptt, "ptt@user#replay", keyPgustavo)
		eventually(t, 10*time.Second, func() error {
			info, err := s.JS.Stream(ctx, natsx.StreamCorrelated)
			if err != nil {
				return err
			}
			if _, err := info.GetLastMsgForSubject(ctx, app.EntitySubject(adjoinv1.EntityKind_ENTITY_KIND_USER, keyPgustavo)); err != nil {
				return err
			}
			return consumerDrained(ctx, s.JS, natsx.StreamCorrelated, "incidents")
		})
		if after := streamMsgs(ctx, t, s.JS, natsx.StreamIncidents); after != before {
			t.Errorf("INCIDENTS went from %d to %d messages on a replay", before, after)
		}
		if _, again, err := storedIncident(ctx, incKV, idPtt); err != nil || again != rev {
			t.Errorf("incident rewritten on a replay: revision %d → %d (%v)", rev, again, err)
		}
	})

	t.Run("a bridging alert merges two incidents", func(t *testing.T) {
		// Between the two, on both pgustavo and WORKSTATION6.
		bridge := mk("bridge", adjoinv1.Side_SIDE_IDENTITY, t0.Add(5*time.Minute))
		correlate(bridge, "bridge@user", keyPgustavo, keyWorkstation)
		inc := incidentHolds(idPtt, "ptt", "bridge", "rubeus")
		if inc.GetMergedInto() != "" {
			t.Errorf("survivor merged_into = %q", inc.GetMergedInto())
		}
		kinds := map[string]string{}
		for _, r := range inc.GetReasons() {
			kinds[r.GetAlertId()] = r.GetKind()
		}
		if want := map[string]string{"bridge": domain.ReasonSameUser, "rubeus": domain.ReasonSameHost}; fmt.Sprint(kinds) != fmt.Sprint(want) {
			t.Errorf("reasons %v, want %v", kinds, want)
		}
		eventually(t, 10*time.Second, func() error {
			merged, _, err := storedIncident(ctx, incKV, idRubeus)
			if err != nil {
				return err
			}
			if merged.GetMergedInto() != idPtt {
				return fmt.Errorf("incident %s merged_into = %q, want %s", idRubeus, merged.GetMergedInto(), idPtt)
			}
			return nil
		})
		if got := published(idRubeus); got.GetMergedInto() != idPtt {
			t.Errorf("last published %s has merged_into %q, want %s", idRubeus, got.GetMergedInto(), idPtt)
		}
		if got := published(idPtt); !slices.Equal(got.GetAlertIds(), []string{"ptt", "bridge", "rubeus"}) {
			t.Errorf("last published %s holds %q", idPtt, got.GetAlertIds())
		}
		// No incident is named after the bridging alert: it was never the earliest.
		if _, err := incKV.Get(ctx, entity.HashID("incident", "bridge")); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Errorf("incident named after the bridge: %v", err)
		}
	})

	t.Run("undecodable message is dead-lettered", func(t *testing.T) {
		msg := &nats.Msg{Subject: app.EntitySubject(adjoinv1.EntityKind_ENTITY_KIND_USER, keyPgustavo), Data: []byte("\xff\xfe not protobuf"), Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, "garbage")
		if _, err := s.JS.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, func() error {
			dl, err := s.JS.Stream(ctx, natsx.StreamDeadLetter)
			if err != nil {
				return err
			}
			if _, err := dl.GetLastMsgForSubject(ctx, "deadletter.correlator.undecodable-correlated"); err != nil {
				return err
			}
			return consumerDrained(ctx, s.JS, natsx.StreamCorrelated, "incidents")
		})
	})

	t.Run("message without an entity key is dead-lettered", func(t *testing.T) {
		publish(t, s.JS, app.EntitySubject(adjoinv1.EntityKind_ENTITY_KIND_USER, keyPgustavo), "keyless",
			&adjoinv1.CorrelatedAlert{Alert: mk("keyless", adjoinv1.Side_SIDE_IDENTITY, t0), CorrelatedTime: timestamppb.Now()})
		eventually(t, 10*time.Second, func() error {
			dl, err := s.JS.Stream(ctx, natsx.StreamDeadLetter)
			if err != nil {
				return err
			}
			if _, err := dl.GetLastMsgForSubject(ctx, "deadletter.correlator.invalid-correlated"); err != nil {
				return err
			}
			return consumerDrained(ctx, s.JS, natsx.StreamCorrelated, "incidents")
		})
	})
}

// refusingStore fails every write of an incident holding one alert, as a store that cannot take
// one message would.
type refusingStore struct {
	ports.IncidentStore
	alert string
}

func (r refusingStore) Write(ctx context.Context, incs []*adjoinv1.Incident) error {
	for _, inc := range incs {
		if slices.Contains(inc.GetAlertIds(), r.alert) {
			return errors.New("store refuses " + r.alert)
		}
	}
	return r.IncidentStore.Write(ctx, incs)
}

// TestIncidentBuilderGivesUp: a CORRELATED message the builder keeps failing on is dead-lettered
// at MaxDeliveries, and the incidents after it are built; with one message in flight it would
// otherwise stop every incident.
func TestIncidentBuilderGivesUp(t *testing.T) {
	r := newBuilderRig(t, shireIndex(0))
	s, ctx, incKV := r.s, r.ctx, r.incidents
	b := r.builder(refusingStore{IncidentStore: r.store(), alert: "poison"})
	b.MaxDeliveries = 2
	b.Metrics = metrics.New()
	r.run(t, b)
	r.correlate(t, "poison", keyPgustavo, adjoinv1.EntityKind_ENTITY_KIND_USER, builderT0)
	r.correlate(t, "after", keyWorkstation, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, builderT0)
	eventually(t, 20*time.Second, func() error {
		if _, _, err := storedIncident(ctx, incKV, entity.HashID("incident", "after")); err != nil {
			return err
		}
		return consumerDrained(ctx, s.JS, natsx.StreamCorrelated, "incidents")
	})
	dl, err := s.JS.Stream(ctx, natsx.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dl.GetLastMsgForSubject(ctx, "deadletter.correlator.incident-failed")
	if err != nil {
		t.Fatalf("no incident-failed dead letter: %v", err)
	}
	if got := m.Header.Get(natsx.HeaderError); got != "still failing at delivery 2 of 2: writing incidents: store refuses poison" {
		t.Errorf("dead letter says %q", got)
	}
	if n := streamMsgs(ctx, t, s.JS, natsx.StreamDeadLetter); n != 1 {
		t.Errorf("DEADLETTER holds %d messages, want only the poison one (the other shared its batch)", n)
	}
	if n := deadLettersCounted(t, b.Metrics, "incident-failed"); n != 1 {
		t.Errorf("adjoin_deadletters_total{reason=incident-failed} = %v, want 1", n)
	}
}

// deadLettersCounted is the correlator's adjoin_deadletters_total for reason in m.
func deadLettersCounted(t *testing.T, m *metrics.Metrics, reason string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "adjoin_deadletters_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["service"] == "correlator" && labels["reason"] == reason {
				return s.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestIncidentBuildersShareOneConsumer runs two builders on one durable, as two correlator
// instances do, over 240 alerts on 12 users (20 each, a minute apart, so each user's alerts are
// one incident): one builder takes the messages, the other stays idle, and the stored incidents and the
// last state published on INCIDENTS for each, hold every alert of their user.
func TestIncidentBuildersShareOneConsumer(t *testing.T) {
	const users, perUser = 12, 20
	r := newBuilderRig(t, shireIndex(users))
	s, ctx, incKV := r.s, r.ctx, r.incidents
	var handled [2]atomic.Int64
	for i := range 2 {
		b := r.builder(countingStore{IncidentStore: r.store(), n: &handled[i]})
		b.Batch = 16
		r.run(t, b)
	}
	want := map[string][]string{} // incident id → alert ids
	for n := range perUser {
		for u := range users {
			id := fmt.Sprintf("u%02d-a%02d", u, n)
			r.correlate(t, id, userKey(u), adjoinv1.EntityKind_ENTITY_KIND_USER, builderT0.Add(time.Duration(n)*time.Minute))
			inc := entity.HashID("incident", fmt.Sprintf("u%02d-a00", u))
			want[inc] = append(want[inc], id)
		}
	}
	st, err := s.JS.Stream(ctx, natsx.StreamIncidents)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		for id, alerts := range want {
			inc, _, err := storedIncident(ctx, incKV, id)
			if err != nil {
				return err
			}
			if !slices.Equal(inc.GetAlertIds(), alerts) {
				return fmt.Errorf("incident %s holds %d alerts, want %d", id, len(inc.GetAlertIds()), len(alerts))
			}
			m, err := st.GetLastMsgForSubject(ctx, natsx.SubjectIncidents+"."+id)
			if err != nil {
				return err
			}
			var last adjoinv1.Incident
			if err := natsx.Decode(m.Header, m.Data, &last); err != nil {
				return err
			}
			if !slices.Equal(last.GetAlertIds(), alerts) {
				return fmt.Errorf("last publication of %s holds %d alerts, want %d", id, len(last.GetAlertIds()), len(alerts))
			}
		}
		return consumerDrained(ctx, s.JS, natsx.StreamCorrelated, "incidents")
	})
	if a, b := handled[0].Load(), handled[1].Load(); (a == 0) == (b == 0) {
		t.Errorf("writes by builder: %d and %d; want one builder pinned, the other idle", a, b)
	}
}

// countingStore counts the writes a builder made.
type countingStore struct {
	ports.IncidentStore
	n *atomic.Int64
}

func (c countingStore) Write(ctx context.Context, incs []*adjoinv1.Incident) error {
	if len(incs) > 0 {
		c.n.Add(1)
	}
	return c.IncidentStore.Write(ctx, incs)
}

// TestIncidentBuilderAfterAnOlderCorrelator: during a rolling upgrade a correlator of the
// earlier version sets the incidents durable back to one message in flight without the priority
// group, and the server refuses the pinned builder's pulls; the builder sets the durable again
// and goes on building.
func TestIncidentBuilderAfterAnOlderCorrelator(t *testing.T) {
	r := newBuilderRig(t, shireIndex(0))
	s, ctx := r.s, r.ctx
	r.run(t, r.builder(nil))
	built := func(id, key string, kind adjoinv1.EntityKind) {
		t.Helper()
		r.correlate(t, id, key, kind, builderT0)
		eventually(t, 15*time.Second, func() error {
			_, _, err := storedIncident(ctx, r.incidents, entity.HashID("incident", id))
			return err
		})
	}
	built("before-upgrade", keyPgustavo, adjoinv1.EntityKind_ENTITY_KIND_USER) // the builder is pinned
	older := jetstream.ConsumerConfig{Durable: "incidents", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
		MaxAckPending: 1, FilterSubjects: []string{natsx.SubjectCorrelatedUser + ".*", natsx.SubjectCorrelatedComputer + ".*"}}
	if _, err := s.JS.CreateOrUpdateConsumer(ctx, natsx.StreamCorrelated, older); err != nil {
		t.Fatal(err)
	}
	built("after-upgrade", keyWorkstation, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER)
	// A pull already waiting when the durable changed may still be served under the older
	// configuration; the next one is refused and the builder sets the durable again.
	eventually(t, 15*time.Second, func() error {
		c, err := s.JS.Consumer(ctx, natsx.StreamCorrelated, "incidents")
		if err != nil {
			return err
		}
		if g := c.CachedInfo().Config.PriorityGroups; len(g) != 1 {
			return fmt.Errorf("durable priority groups %v, want the builder's again", g)
		}
		return nil
	})
}

// builderT0 is when the incident builder tests' alerts happen.
var builderT0 = time.Date(2020, 9, 22, 2, 39, 10, 0, time.UTC)

// builderRig is a JetStream server with the bucket the incident builder writes.
type builderRig struct {
	s         *natstest.Server
	ctx       context.Context
	ix        *directory.Index
	incidents jetstream.KeyValue
}

func newBuilderRig(t *testing.T, ix *directory.Index) *builderRig {
	s := natstest.Start(t)
	return &builderRig{s: s, ctx: context.Background(), ix: ix, incidents: s.KV(t, natsx.BucketIncidents)}
}

// resolvedTo is the resolutions of an alert whose references resolved to keys.
func resolvedTo(keys ...string) []*adjoinv1.Resolution {
	var rs []*adjoinv1.Resolution
	for i, k := range keys {
		rs = append(rs, &adjoinv1.Resolution{RefIndex: int32(i), EntityKey: k, Certainty: 1})
	}
	return rs
}

func (r *builderRig) store() adapters.Incidents {
	return adapters.Incidents{KV: r.incidents, JS: r.s.JS}
}

// builder is a builder on the durable "incidents" writing to store (nil: the bucket itself).
func (r *builderRig) builder(store ports.IncidentStore) *ports.IncidentBuilder {
	if store == nil {
		store = r.store()
	}
	return &ports.IncidentBuilder{JS: r.s.JS, Durable: "incidents", Log: zap.NewNop(), Store: store,
		Grouper: &domain.Grouper{Window: time.Hour, Logons: domain.NewLogons(0), Source: adapters.GroupSource{Index: r.ix},
			Alerts: domain.NewAlertWindow(0)}}
}

// run runs b until the test ends, and checks that it then stops cleanly.
func (r *builderRig) run(t *testing.T, b *ports.IncidentBuilder) {
	t.Helper()
	t.Cleanup(r.start(t, b))
}

// start runs b until the returned function stops it and checks that it stopped cleanly.
func (r *builderRig) start(t *testing.T, b *ports.IncidentBuilder) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	return sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of cancel")
		}
	})
}

// correlate publishes the correlated message of alert id resolved to key, as the correlator
// does.
func (r *builderRig) correlate(t *testing.T, id, key string, kind adjoinv1.EntityKind, at time.Time) *adjoinv1.CorrelatedAlert {
	t.Helper()
	a := &adjoinv1.Alert{Id: id, Side: adjoinv1.Side_SIDE_IDENTITY, Severity: adjoinv1.Severity_SEVERITY_HIGH, Version: 1,
		FirstActivity: timestamppb.New(at), LastActivity: timestamppb.New(at)}
	c := &adjoinv1.CorrelatedAlert{Alert: a, Resolutions: resolvedTo(key), EntityKey: key, CorrelatedTime: timestamppb.Now()}
	publish(t, r.s.JS, app.EntitySubject(kind, key), id, c)
	return c
}
