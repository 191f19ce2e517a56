package ports

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// TestLoadUnansweredRequest checks that a partition load fails, rather than waits, when one
// kind of JetStream request goes unanswered, as a cluster's leader change can leave it (chaos
// scenario 3 once held a partition for four minutes this way). The owner talks to the server
// through a relay on its own API prefix that drops the requests named; with nothing dropped
// the same load succeeds.
func TestLoadUnansweredRequest(t *testing.T) {
	s := natstest.Start(t)
	ctx := context.Background()
	c := (&Counter{JS: s.JS, Durable: "correlator", Partitions: 1, Log: zap.NewNop()}).withDefaults()
	c.stall = 500 * time.Millisecond
	durable, err := s.JS.CreateOrUpdateConsumer(ctx, natsx.StreamCounts, c.consumerConfig(0))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m := nats.NewMsg(natsx.CountsSubject(0, false, "k"))
		m.Data = []byte{byte(i)}
		if _, err := s.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// The durable has delivered them: the load replays up to them.
	batch, err := durable.Fetch(3, jetstream.FetchMaxWait(time.Second), jetstream.FetchPriorityGroup(counterGroup))
	if err != nil {
		t.Fatal(err)
	}
	for range batch.Messages() {
	}

	for _, tc := range []struct {
		name string
		drop string // prefix of the API subjects (after $JS.API.) left unanswered; "" none
	}{
		{"nothing dropped", ""},
		{"snapshot bucket lookup", "STREAM.INFO.OBJ_" + natsx.BucketCounter},
		{"durable's info", "CONSUMER.INFO." + natsx.StreamCounts},
		{"replay consumer's creation", "CONSUMER.CREATE." + natsx.StreamCounts},
		{"replay's pulls", "CONSUMER.MSG.NEXT." + natsx.StreamCounts},
		{"seed watcher's creation", "CONSUMER.CREATE.KV_" + natsx.BucketBadges},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Without a snapshot the load seeds; the positive case writes one, so it goes last
			// in effect: remove it before each case.
			if objs, err := s.JS.ObjectStore(ctx, natsx.BucketCounter); err == nil {
				_ = objs.Delete(ctx, SnapshotName(0))
			}
			rc := c
			rc.JS = relayJS(t, s.NC, tc.drop)
			o := newOwner(&rc, 0)
			done := make(chan error, 1)
			go func() { done <- o.load(ctx) }()
			select {
			case err := <-done:
				switch {
				case tc.drop == "" && err != nil:
					t.Fatalf("load through the relay: %v", err)
				case tc.drop != "" && err == nil:
					t.Fatalf("load succeeded with %s.* unanswered", tc.drop)
				case err != nil:
					t.Logf("load failed as it should: %v", err)
				}
			case <-time.After(time.Minute):
				t.Fatalf("load still waiting a minute after its requests %s.* went unanswered (bound %s)", tc.drop, c.stall)
			}
		})
	}
}

// relayJS returns a JetStream client whose API requests go through a relay that passes them to
// the server, except those whose subject (after $JS.API.) starts with drop.
func relayJS(t *testing.T, nc *nats.Conn, drop string) jetstream.JetStream {
	t.Helper()
	prefix := "relay" + nats.NewInbox()[len("_INBOX."):]
	sub, err := nc.Subscribe(prefix+".>", func(m *nats.Msg) {
		api := strings.TrimPrefix(m.Subject, prefix+".")
		if drop != "" && strings.HasPrefix(api, drop) {
			return
		}
		_ = nc.PublishMsg(&nats.Msg{Subject: jetstream.DefaultAPIPrefix + api, Reply: m.Reply, Header: m.Header, Data: m.Data})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	js, err := jetstream.NewWithAPIPrefix(nc, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
