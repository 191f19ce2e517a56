package ports_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/counts"
	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/correlator/internal/adapters"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
	"github.com/adjoin/adjoin/services/correlator/internal/ports"
)

// Shire lab keys (services/adjoin/demo/theshire.ldif); no objectGUIDs there, so SIDs.
const (
	domainSID      = "S-1-5-21-3669966080-2286457517-972388166"
	keyPgustavo    = domainSID + "-1104"
	keyWorkstation = domainSID + "-1112"
)

// eventually retries f every 20ms until it returns nil, and fails the test with its last error
// when within has passed.
func eventually(t testing.TB, within time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func shireIndex(extraUsers int) *directory.Index {
	ix := directory.NewIndex()
	ix.Put(&adjoinv1.Entity{
		Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: keyPgustavo, SamAccountName: "pgustavo",
		NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", Upn: "pgustavo@theshire.local",
	})
	ix.Put(&adjoinv1.Entity{
		Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Sid: keyWorkstation, SamAccountName: "WORKSTATION6$",
		NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", DnsHostName: "WORKSTATION6.theshire.local",
	})
	for i := range extraUsers {
		ix.Put(&adjoinv1.Entity{
			Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: userKey(i), SamAccountName: fmt.Sprintf("hobbit%02d", i),
			NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local",
		})
	}
	return ix
}

func userKey(i int) string { return fmt.Sprintf("%s-%d", domainSID, 2000+i) }

// countingPublisher counts the alerts one correlator instance published for.
type countingPublisher struct {
	app.Publisher
	calls atomic.Int64
}

func (c *countingPublisher) Publish(ctx context.Context, pubs []app.Publication) error {
	c.calls.Add(int64(len(pubs)))
	return c.Publisher.Publish(ctx, pubs)
}

// startConsumer runs one correlator instance (the ALERTS consumer and the partition owners),
// on its own connection, until the test ends; the returned stop cancels it and fails the test
// unless both return nil promptly.
func startConsumer(t *testing.T, s *natstest.Server, ix *directory.Index, durable string) (pub *countingPublisher, stop func()) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	pub = &countingPublisher{Publisher: adapters.Correlated{JS: js}}
	// Small batches: with the default 512 and two in flight, one instance can take all of a
	// test's alerts before the other pulls, and TestConsumersShareDurable sees no split.
	c := &ports.Consumer{
		JS: js, Durable: durable, Log: zap.NewNop(), AckWait: 10 * time.Second, Batch: 16,
		Correlator: &app.Correlator{Index: ix, Out: pub},
	}
	return pub, runStages(t, js, c, durable)
}

// runStages runs c and the partition owners of durable until the test ends; the returned stop
// cancels them and fails the test unless both return nil promptly.
func runStages(t *testing.T, js jetstream.JetStream, c *ports.Consumer, durable string) (stop func()) {
	t.Helper()
	owners := &ports.Counter{JS: js, Durable: durable, Log: zap.NewNop(), AckWait: 10 * time.Second, MaxDeliveries: c.MaxDeliveries}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- c.Run(ctx) }()
	go func() { done <- owners.Run(ctx) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		for range 2 {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return within 10s of cancel")
			}
		}
	}
	t.Cleanup(stop)
	return stop
}

func publish(t *testing.T, js jetstream.JetStream, subject, id string, m proto.Message) {
	t.Helper()
	msg, err := natsx.NewMsg(subject, id, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

func entityCounts(ctx context.Context, kv jetstream.KeyValue, key string) (*adjoinv1.EntityCounts, error) {
	e, err := kv.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("counts of %s: %w", key, err)
	}
	ec := &adjoinv1.EntityCounts{}
	return ec, natsx.Decode(nil, e.Value(), ec)
}

// drained reports an error until the durable on ALERTS, and the partition owners' durables on
// COUNTS, have nothing pending and nothing unacknowledged.
func drained(ctx context.Context, js jetstream.JetStream, durable string) error {
	if err := consumerDrained(ctx, js, natsx.StreamAlerts, durable); err != nil {
		return err
	}
	for p := range natsx.DefaultPartitions {
		if err := consumerDrained(ctx, js, natsx.StreamCounts, natsx.CounterDurable(durable, p)); err != nil {
			return err
		}
	}
	return nil
}

func alert(id string, version int64, status adjoinv1.AlertStatus, refs ...*adjoinv1.EntityRef) *adjoinv1.Alert {
	return &adjoinv1.Alert{
		Id: id, Side: adjoinv1.Side_SIDE_IDENTITY, Severity: adjoinv1.Severity_SEVERITY_HIGH,
		Status: status, Version: version, Entities: refs,
	}
}

func TestConsumerCountsAndDeadLetters(t *testing.T) {
	s := natstest.Start(t)
	ctx := context.Background()
	badges := s.KV(t, natsx.BucketBadges)
	_, stop := startConsumer(t, s, shireIndex(0), "correlator")

	user := &adjoinv1.EntityRef{Sid: keyPgustavo, SamAccountName: "pgustavo", Domain: "THESHIRE"}
	host := &adjoinv1.EntityRef{DnsHostName: "WORKSTATION6.theshire.local"}
	publish(t, s.JS, "alerts.identity.dcsync", "dcsync-1.v1", alert("dcsync-1", 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW, user, host))
	publish(t, s.JS, "alerts.identity.dcsync", "dcsync-2.v1", alert("dcsync-2", 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW, user))
	eventually(t, 10*time.Second, func() error {
		for key, want := range map[string]int64{keyPgustavo: 2, keyWorkstation: 1} {
			ec, err := entityCounts(ctx, badges, key)
			if err != nil {
				return err
			}
			if got := counts.Summarise(ec, adjoinv1.Side_SIDE_IDENTITY).GetTotal(); got != want {
				return fmt.Errorf("%s: total %d, want %d", key, got, want)
			}
		}
		return nil
	})

	// Refused input: each is terminated (never redelivered) and copied to DEADLETTER.
	bad := []struct {
		name    string
		msg     *nats.Msg
		wantErr string // in the Adjoin-Error header
		reason  string // in the subject
	}{
		{"garbage", &nats.Msg{Subject: "alerts.identity.x", Data: []byte("\xff\xfe this is not protobuf")}, "decode adjoin.v1.Alert", "undecodable-alert"},
		{"alert without id", mustMsg(t, "alerts.identity.x", "no-id", &adjoinv1.Alert{Title: "no id"}), "alert without id", "invalid-alert"},
		{"wrong Adjoin-Type", mustMsg(t, "alerts.endpoint.x", "wrong-type", &adjoinv1.Entity{Key: "k", Sid: keyPgustavo}), natsx.ErrWrongType.Error(), "undecodable-alert"},
		{"alert without side", mustMsg(t, "alerts.endpoint.x", "no-side", &adjoinv1.Alert{Id: "x1", Entities: []*adjoinv1.EntityRef{{Sid: keyPgustavo}}}), "side SIDE_UNSPECIFIED", "invalid-alert"},
		{"alert without entities", mustMsg(t, "alerts.endpoint.x", "no-entities", &adjoinv1.Alert{Id: "x2", Side: adjoinv1.Side_SIDE_ENDPOINT}), "no entity references", "invalid-alert"},
		// Unresolved, so it would be kept in adjoin_pending under its id: a 5,000-byte key.
		{"alert id of 5,000 bytes", mustMsg(t, "alerts.endpoint.x", "long-id", &adjoinv1.Alert{Id: strings.Repeat("a", 5000), Side: adjoinv1.Side_SIDE_ENDPOINT,
			Entities: []*adjoinv1.EntityRef{{Sid: "S-1-5-21-1-2-3-999999"}}}), "alert id of 5000 bytes", "invalid-alert"},
	}
	for _, b := range bad {
		if _, err := s.JS.PublishMsg(ctx, b.msg); err != nil {
			t.Fatal(err)
		}
	}
	dl, err := s.JS.Stream(ctx, natsx.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		info, err := dl.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs != uint64(len(bad)) {
			return fmt.Errorf("DEADLETTER holds %d messages, want %d", info.State.Msgs, len(bad))
		}
		return drained(ctx, s.JS, "correlator")
	})
	// Batches are handled two at a time, so the dead letters may be stored in another order:
	// each is found by its bytes.
	var letters []*jetstream.RawStreamMsg
	for seq := range uint64(len(bad)) {
		m, err := dl.GetMsg(ctx, seq+1)
		if err != nil {
			t.Fatal(err)
		}
		letters = append(letters, m)
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			i := slices.IndexFunc(letters, func(m *jetstream.RawStreamMsg) bool { return bytes.Equal(m.Data, b.msg.Data) })
			if i < 0 {
				t.Fatal("no dead letter carries the original bytes")
			}
			m := letters[i]
			if want := "deadletter.correlator." + b.reason; m.Subject != want {
				t.Errorf("subject %q, want %q", m.Subject, want)
			}
			if string(m.Data) != string(b.msg.Data) {
				t.Errorf("dead letter does not carry the original bytes")
			}
			if got := m.Header.Get(natsx.HeaderError); !strings.Contains(got, b.wantErr) {
				t.Errorf("%s = %q, want it to mention %q", natsx.HeaderError, got, b.wantErr)
			}
			if got, want := m.Header.Get(natsx.HeaderOrigin), "subject "+b.msg.Subject; got != want {
				t.Errorf("%s = %q, want %q", natsx.HeaderOrigin, got, want)
			}
		})
	}
	c, err := s.JS.Consumer(ctx, natsx.StreamAlerts, "correlator")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumRedelivered != 0 || info.Delivered.Consumer != uint64(2+len(bad)) {
		t.Errorf("delivered %d, redelivered %d; want 2 good and every bad one delivered once, and no redelivery", info.Delivered.Consumer, info.NumRedelivered)
	}
	// Counts did not move.
	if ec, err := entityCounts(ctx, badges, keyPgustavo); err != nil || counts.Summarise(ec, adjoinv1.Side_SIDE_IDENTITY).GetTotal() != 2 {
		t.Errorf("pgustavo after refused input: %v, %v", ec, err)
	}
	stop()
}

func mustMsg(t *testing.T, subject, id string, m proto.Message) *nats.Msg {
	t.Helper()
	msg, err := natsx.NewMsg(subject, id, m)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestConsumersShareDurable runs two correlator instances on one durable consumer and feeds
// them alerts, replays of the same alerts under new message ids (beyond stream deduplication),
// and status updates: every entity's counts must come out exact.
func TestConsumersShareDurable(t *testing.T) {
	const (
		users  = 20
		alerts = 200
	)
	s := natstest.Start(t)
	ctx := context.Background()
	ix := shireIndex(users)
	a1, stop1 := startConsumer(t, s, ix, "correlator")
	a2, stop2 := startConsumer(t, s, ix, "correlator")

	// Wait until both instances are pulling, so both get work.
	eventually(t, 10*time.Second, func() error {
		c, err := s.JS.Consumer(ctx, natsx.StreamAlerts, "correlator")
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumWaiting < 2 {
			return fmt.Errorf("%d pull requests waiting, want 2", info.NumWaiting)
		}
		return nil
	})

	type want struct{ total, open int64 }
	wants := map[string]*want{keyWorkstation: {}}
	pubs := map[string]int{} // correlated subject -> distinct (alert, version) published on it
	batch := natsx.NewBatch(s.JS)
	add := func(subject, id string, a *adjoinv1.Alert) {
		msg, err := natsx.NewMsg(subject, id, a)
		if err != nil {
			t.Fatal(err)
		}
		if err := batch.Add(msg); err != nil {
			t.Fatal(err)
		}
	}
	for i := range alerts {
		u := i % users
		refs := []*adjoinv1.EntityRef{{SamAccountName: fmt.Sprintf(`THESHIRE\hobbit%02d`, u)}}
		keys := []string{userKey(u)}
		subjects := []string{"correlated.user." + userKey(u)}
		if i%4 == 0 {
			refs = append(refs, &adjoinv1.EntityRef{NetbiosName: "WORKSTATION6"})
			keys = append(keys, keyWorkstation)
			subjects = append(subjects, "correlated.computer."+keyWorkstation)
		}
		id := fmt.Sprintf("alert-%03d", i)
		v1 := alert(id, 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW, refs...)
		add("alerts.identity.test", id+".v1", v1)
		add("alerts.identity.test", id+".v1.replay", v1) // same alert version, new message id
		resolved := i%10 == 0
		if resolved {
			add("alerts.identity.test", id+".v2", alert(id, 2, adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED, refs...))
		}
		for k, key := range keys {
			if wants[key] == nil {
				wants[key] = &want{}
			}
			wants[key].total++
			if !resolved {
				wants[key].open++
			}
			pubs[subjects[k]]++
			if resolved {
				pubs[subjects[k]]++
			}
		}
	}
	if _, err := batch.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	badges := s.KV(t, natsx.BucketBadges)
	eventually(t, 15*time.Second, func() error { return drained(ctx, s.JS, "correlator") })
	for key, w := range wants {
		ec, err := entityCounts(ctx, badges, key)
		if err != nil {
			t.Fatal(err)
		}
		sum := counts.Summarise(ec, adjoinv1.Side_SIDE_IDENTITY)
		if sum.GetTotal() != w.total || sum.GetOpen() != w.open || ec.GetFormat() != counts.Format {
			t.Errorf("%s: total/open = %d/%d (format %d), want %d/%d", key, sum.GetTotal(), sum.GetOpen(), ec.GetFormat(), w.total, w.open)
		}
	}
	if len(wants) != users+1 {
		t.Errorf("expected counts for %d entities, got %d", users+1, len(wants))
	}

	out, err := s.JS.Stream(ctx, natsx.StreamCorrelated)
	if err != nil {
		t.Fatal(err)
	}
	info, err := out.Info(ctx, jetstream.WithSubjectFilter("correlated.>"))
	if err != nil {
		t.Fatal(err)
	}
	for subject, want := range pubs {
		if got := info.State.Subjects[subject]; got != uint64(want) {
			t.Errorf("%s holds %d messages, want %d (one per alert version)", subject, got, want)
		}
	}
	if len(info.State.Subjects) != len(pubs) {
		t.Errorf("CORRELATED has %d subjects, want %d", len(info.State.Subjects), len(pubs))
	}
	if a1.calls.Load() == 0 || a2.calls.Load() == 0 {
		t.Errorf("work split %d/%d: both instances should have handled alerts", a1.calls.Load(), a2.calls.Load())
	}
	stop1()
	stop2()
}

// TestConsumerRunFailsWithoutStream checks Run reports a consumer it cannot create instead of
// spinning.
func TestConsumerRunFailsWithoutStream(t *testing.T) {
	s := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.JS.DeleteStream(ctx, natsx.StreamAlerts); err != nil {
		t.Fatal(err)
	}
	c := &ports.Consumer{JS: s.JS, Durable: "correlator", Log: zap.NewNop(), Correlator: &app.Correlator{Index: directory.NewIndex()}}
	err := c.Run(ctx)
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("Run = %v, want %v", err, jetstream.ErrStreamNotFound)
	}
}

// failingPublisher fails every publish of one alert id, as a handler that can never succeed.
type failingPublisher struct {
	app.Publisher
	poison string
}

func (p *failingPublisher) Publish(ctx context.Context, pubs []app.Publication) error {
	for _, pub := range pubs {
		if pub.Msg.GetAlert().GetId() == p.poison {
			return errors.New("synthetic permanent failure")
		}
	}
	return p.Publisher.Publish(ctx, pubs)
}

// TestConsumerDeadLettersAfterMaxDeliveries checks that an alert whose handling keeps failing
// is retried until its MaxDeliveries-th delivery, then terminated and copied to DEADLETTER,
// while the alerts after it are counted meanwhile.
func TestConsumerDeadLettersAfterMaxDeliveries(t *testing.T) {
	s := natstest.Start(t)
	ctx := context.Background()
	pub := &failingPublisher{Publisher: adapters.Correlated{JS: s.JS}, poison: "poison"}
	c := &ports.Consumer{JS: s.JS, Durable: "correlator", Log: zap.NewNop(), AckWait: 10 * time.Second, MaxDeliveries: 3,
		Correlator: &app.Correlator{Index: shireIndex(0), Out: pub}}
	runStages(t, s.JS, c, "correlator")

	user := &adjoinv1.EntityRef{Sid: keyPgustavo}
	poison := alert("poison", 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW, user)
	publish(t, s.JS, "alerts.identity.test", "poison.v1", poison)
	for i := range 5 {
		id := fmt.Sprintf("ok-%d", i)
		publish(t, s.JS, "alerts.identity.test", id+".v1", alert(id, 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW, user))
	}
	badges := s.KV(t, natsx.BucketBadges)
	eventually(t, 5*time.Second, func() error {
		ec, err := entityCounts(ctx, badges, keyPgustavo)
		if err != nil {
			return err
		}
		if n := counts.Summarise(ec, adjoinv1.Side_SIDE_IDENTITY).GetTotal(); n != 5 {
			return fmt.Errorf("%d alerts counted, want the 5 good ones", n)
		}
		return nil
	})
	dl, err := s.JS.Stream(ctx, natsx.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	// Retries after 1s and 2s, then given up at the third delivery.
	eventually(t, 15*time.Second, func() error {
		if err := drained(ctx, s.JS, "correlator"); err != nil {
			return err
		}
		info, err := dl.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs != 1 {
			return fmt.Errorf("DEADLETTER holds %d messages, want 1", info.State.Msgs)
		}
		return nil
	})
	if info, err := dl.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Errorf("DEADLETTER after the poison was given up: %v, %v", info, err)
	}
	m, err := dl.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := "deadletter.correlator.max-deliveries"; m.Subject != want {
		t.Errorf("subject %q, want %q", m.Subject, want)
	}
	if got := m.Header.Get(natsx.HeaderError); !strings.Contains(got, "delivery 3 of 3") || !strings.Contains(got, "synthetic permanent failure") {
		t.Errorf("%s = %q, want the delivery and the last failure", natsx.HeaderError, got)
	}
	var back adjoinv1.Alert
	if err := natsx.Decode(nil, m.Data, &back); err != nil || back.GetId() != "poison" {
		t.Errorf("dead letter holds %v (%v), want the poison alert's bytes", back.GetId(), err)
	}
}

// batchPublisher records the most alerts one Publish carried.
type batchPublisher struct {
	app.Publisher
	most atomic.Int64
}

func (p *batchPublisher) Publish(ctx context.Context, pubs []app.Publication) error {
	ids := map[string]bool{}
	for _, pub := range pubs {
		ids[pub.Msg.GetAlert().GetId()] = true
	}
	for n := int64(len(ids)); ; {
		m := p.most.Load()
		if n <= m || p.most.CompareAndSwap(m, n) {
			break
		}
	}
	return p.Publisher.Publish(ctx, pubs)
}

// TestConsumerBatchBound: a backlog larger than Batch is taken Batch alerts at a time at most,
// and every alert is counted.
func TestConsumerBatchBound(t *testing.T) {
	const (
		batch  = 100
		alerts = 450
	)
	s := natstest.Start(t)
	ctx := context.Background()
	b := natsx.NewBatch(s.JS)
	for i := range alerts {
		a := alert(fmt.Sprintf("bound-%03d", i), 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW, &adjoinv1.EntityRef{Sid: keyPgustavo})
		if err := b.Add(mustMsg(t, "alerts.identity.test", a.GetId(), a)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	pub := &batchPublisher{Publisher: adapters.Correlated{JS: s.JS}}
	c := &ports.Consumer{JS: s.JS, Durable: "correlator", Log: zap.NewNop(), AckWait: 10 * time.Second, Batch: batch,
		Correlator: &app.Correlator{Index: shireIndex(0), Out: pub}}
	runStages(t, s.JS, c, "correlator")
	badges := s.KV(t, natsx.BucketBadges)
	eventually(t, 20*time.Second, func() error {
		if err := drained(ctx, s.JS, "correlator"); err != nil {
			return err
		}
		ec, err := entityCounts(ctx, badges, keyPgustavo)
		if err != nil {
			return err
		}
		if n := counts.Summarise(ec, adjoinv1.Side_SIDE_IDENTITY).GetTotal(); n != alerts {
			return fmt.Errorf("%d alerts counted, want %d", n, alerts)
		}
		return nil
	})
	if most := pub.most.Load(); most > batch || most < 2 {
		t.Errorf("at most %d alerts handled at once, want batches of 2 to %d", most, batch)
	}
}

// TestConsumerRecreatesDeletedDurable: a pull the server refuses (here, the durable was
// deleted) is not taken for an idle stream forever: the consumer configures its durable again
// and alerts published afterwards are counted.
func TestConsumerRecreatesDeletedDurable(t *testing.T) {
	s := natstest.Start(t)
	ctx := context.Background()
	badges := s.KV(t, natsx.BucketBadges)
	startConsumer(t, s, shireIndex(0), "correlator")
	user := &adjoinv1.EntityRef{Sid: keyPgustavo, SamAccountName: "pgustavo", Domain: "THESHIRE"}
	eventually(t, 10*time.Second, func() error {
		_, err := s.JS.Consumer(ctx, natsx.StreamAlerts, "correlator")
		return err
	})
	if err := s.JS.DeleteConsumer(ctx, natsx.StreamAlerts, "correlator"); err != nil {
		t.Fatal(err)
	}
	publish(t, s.JS, "alerts.identity.dcsync", "after-delete.v1", alert("after-delete", 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW, user))
	eventually(t, 15*time.Second, func() error {
		ec, err := entityCounts(ctx, badges, keyPgustavo)
		if err != nil {
			return err
		}
		if got := counts.Summarise(ec, adjoinv1.Side_SIDE_IDENTITY).GetTotal(); got != 1 {
			return fmt.Errorf("total %d, want 1", got)
		}
		return nil
	})
}
