package ports_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
)

// TestCounterUnpinnedMidStream runs two owners while messages arrive and has the server unpin
// the partition's owner again and again (as when an owner stalls past PinnedTTL): the owner
// that loses the pin, possibly with a batch in hand, steps down, the next loads, and in the
// end the counts are exact and every correlated copy is stored once.
func TestCounterUnpinnedMidStream(t *testing.T) {
	r := newCountRig(t, 1)
	nc, err := nats.Connect(r.s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	jsB, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	log, logs := observed()
	for _, js := range []jetstream.JetStream{r.s.JS, jsB} {
		c := r.counter(js, log)
		c.Batch = 32
		r.run(t, c)
	}
	stream, err := r.s.JS.Stream(r.ctx, natsx.StreamCounts)
	if err != nil {
		t.Fatal(err)
	}
	h := r.history("user", 40, 6) // 720 messages
	for i := 0; i < len(h); i += 60 {
		r.publish(t, true, h[i:min(i+60, len(h))]...)
		time.Sleep(50 * time.Millisecond)
		// "counter" is the owners' priority group.
		if err := stream.UnpinConsumer(r.ctx, natsx.CounterDurable("correlator", 0), "counter"); err != nil {
			t.Logf("unpin: %v", err)
		}
	}
	eventually(t, 60*time.Second, func() error {
		if err := r.drained(); err != nil {
			return err
		}
		return r.exact()
	})
	t.Logf("%d loads, %d drops", lines(logs, "partition owned; state loaded", ""), lines(logs, "partition state dropped", ""))
	if n := lines(logs, "partition owned; state loaded", ""); n < 2 {
		t.Errorf("%d loads, want the partition to change hands", n)
	}
	r.copies(t)
}
