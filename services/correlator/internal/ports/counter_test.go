package ports_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/counts"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/correlator/internal/ports"
)

// countRig is an embedded JetStream with the topology, COUNTS messages published straight on
// it (no stage 1), and the ground truth: every alert version published, per entity, applied
// with counts.Apply (the format-1 arithmetic).
type countRig struct {
	s      *natstest.Server
	ctx    context.Context
	p      int
	badges jetstream.KeyValue
	truth  map[string]*adjoinv1.EntityCounts
	ids    map[string]bool // distinct correlated copies expected (their Nats-Msg-Id)
	t0     time.Time
}

func newCountRig(t testing.TB, partitions int) *countRig {
	s := natstest.Start(t)
	return &countRig{s: s, ctx: context.Background(), p: partitions, badges: s.KV(t, natsx.BucketBadges),
		truth: map[string]*adjoinv1.EntityCounts{}, ids: map[string]bool{}, t0: recentHour()}
}

// recentHour is the rigs' correlation time: a day ago, on the hour. A fixed date falls out of
// --state-retention (180 d) as the clock runs on, and then every snapshot tombstones the
// history under test, whose first/last activity a later version can no longer move (see
// counts.Ledger.Compact): TestCounterUnpinnedMidStream failed that way with a March date.
func recentHour() time.Time { return time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Hour) }

// counter is a Counter on r's stream with short timings, logging into log (nil: nowhere).
func (r *countRig) counter(js jetstream.JetStream, log *zap.Logger) *ports.Counter {
	if log == nil {
		log = zap.NewNop()
	}
	return &ports.Counter{JS: js, Durable: "correlator", Partitions: r.p, Log: log, Metrics: metrics.New(),
		PinnedTTL: 2 * time.Second, SnapshotEvery: time.Hour, SnapshotFolds: 200}
}

// run runs c until stop is called or the test ends, and checks it then stops cleanly.
func (r *countRig) run(t testing.TB, c *ports.Counter) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return within 30s of cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

// alert is version v of alert id on key, with a status and severity that change with v.
func (r *countRig) alert(id string, v int64, side adjoinv1.Side, key string) *adjoinv1.Alert {
	sev := adjoinv1.Severity(1 + (len(id)+int(v))%4)
	status := adjoinv1.AlertStatus_ALERT_STATUS_NEW
	if v%3 == 0 {
		status = adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED
	}
	at := r.t0.Add(time.Duration(len(id)*7+int(v)) * time.Minute)
	return &adjoinv1.Alert{Id: id, Side: side, Source: "test", Detector: "synthetic", Severity: sev, Status: status, Version: v,
		FirstActivity: timestamppb.New(at), LastActivity: timestamppb.New(at.Add(time.Duration(v) * time.Minute)),
		Entities: []*adjoinv1.EntityRef{{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: key}}}
}

// msg is the COUNTS message of a on key and its Nats-Msg-Id, as stage 1 builds them; the
// ground truth takes a in.
func (r *countRig) msg(a *adjoinv1.Alert, key string) (*adjoinv1.CorrelatedAlert, string) {
	ec := r.truth[key]
	if ec == nil {
		ec = &adjoinv1.EntityCounts{EntityKey: key}
		r.truth[key] = ec
	}
	counts.Apply(ec, a, key)
	id := entity.HashID("correlated", a.GetId(), strconv.FormatInt(max(a.GetVersion(), 1), 10), key)
	r.ids[id] = true
	return &adjoinv1.CorrelatedAlert{Alert: a, EntityKey: key, CorrelatedTime: timestamppb.New(r.t0),
		Resolutions: []*adjoinv1.Resolution{{EntityKey: key, Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Certainty: 1}}}, id
}

// publish publishes the COUNTS messages of alerts (each on its key), pipelined; msgID false
// leaves the Nats-Msg-Id out, so a repeat is stored again (a duplicate past the window).
func (r *countRig) publish(t testing.TB, msgID bool, alerts ...keyed) {
	t.Helper()
	b := natsx.NewBatchContext(r.ctx, r.s.JS)
	for _, ka := range alerts {
		c, id := r.msg(ka.a, ka.key)
		if !msgID {
			id = ""
		}
		m, err := natsx.NewMsg(natsx.CountsSubject(natsx.Partition(ka.key, r.p), false, ka.key), id, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Add(m); err != nil {
			t.Fatal(err)
		}
		if b.Len() >= 2000 {
			if _, err := b.Wait(r.ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := b.Wait(r.ctx); err != nil {
		t.Fatal(err)
	}
}

type keyed struct {
	key string
	a   *adjoinv1.Alert
}

// record returns the stored record of key.
func (r *countRig) record(key string) (*adjoinv1.EntityCounts, int, error) {
	e, err := r.badges.Get(r.ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("record of %s: %w", key, err)
	}
	var ec adjoinv1.EntityCounts
	if err := natsx.Decode(nil, e.Value(), &ec); err != nil {
		return nil, 0, err
	}
	return &ec, len(e.Value()), nil
}

// exact reports the first entity whose stored record does not count what the ground truth
// does, on either side.
func (r *countRig) exact() error {
	for key, want := range r.truth {
		got, _, err := r.record(key)
		if err != nil {
			return err
		}
		if got.GetFormat() != counts.Format {
			return fmt.Errorf("record of %s: format %d, want %d", key, got.GetFormat(), counts.Format)
		}
		for _, side := range []adjoinv1.Side{adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Side_SIDE_ENDPOINT} {
			if g, w := counts.Summarise(got, side), counts.Summarise(want, side); !proto.Equal(g, w) {
				return fmt.Errorf("%s %s: got %v, want %v", key, side, g, w)
			}
		}
	}
	return nil
}

// drained reports an error until every partition's durable has nothing left to deliver or ack.
func (r *countRig) drained() error {
	for p := range r.p {
		c, err := r.s.JS.Consumer(r.ctx, natsx.StreamCounts, natsx.CounterDurable("correlator", p))
		if err != nil {
			return err
		}
		info, err := c.Info(r.ctx)
		if err != nil {
			return err
		}
		if info.NumPending != 0 || info.NumAckPending != 0 {
			return fmt.Errorf("partition %d: %d pending, %d awaiting ack", p, info.NumPending, info.NumAckPending)
		}
	}
	return nil
}

// copies checks that CORRELATED holds exactly one copy of every expected id.
func (r *countRig) copies(t *testing.T) {
	t.Helper()
	cons, err := r.s.JS.OrderedConsumer(r.ctx, natsx.StreamCorrelated, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for len(seen) < len(r.ids)+1 {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			seen[m.Headers().Get(jetstream.MsgIDHeader)]++
			var c adjoinv1.CorrelatedAlert
			if err := natsx.Decode(m.Headers(), m.Data(), &c); err != nil || c.GetIncidentId() != "" || len(c.GetOtherSideAlertIds()) > counts.RecentMax {
				t.Fatalf("copy %s: %v, incident %q, %d other-side ids", m.Subject(), err, c.GetIncidentId(), len(c.GetOtherSideAlertIds()))
			}
		}
		if n == 0 {
			break
		}
	}
	for id := range r.ids {
		if seen[id] != 1 {
			t.Errorf("correlated copy %s stored %d times, want 1", id, seen[id])
		}
	}
	if len(seen) != len(r.ids) {
		t.Errorf("%d distinct correlated copies, want %d", len(seen), len(r.ids))
	}
}

// observed is a logger whose Info and above lines the test can count.
func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.InfoLevel)
	return zap.New(core), logs
}

// lines counts the lines of logs with message msg (and, when not empty, field reason).
func lines(logs *observer.ObservedLogs, msg, reason string) int {
	n := 0
	for _, e := range logs.FilterMessage(msg).All() {
		if reason == "" || e.ContextMap()["reason"] == reason {
			n++
		}
	}
	return n
}

var errNotYet = errors.New("not yet")
