package ports

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// TestProbePin checks the answers probePin reads: with the pin id the server gave, the owner
// is not fenced and receives no message, and probes keep the pin past PinnedTTL (without them
// it lapses); with another id it is fenced.
func TestProbePin(t *testing.T) {
	s := natstest.Start(t)
	ctx := context.Background()
	c := (&Counter{JS: s.JS, Durable: "correlator", Partitions: 1, Log: zap.NewNop(), PinnedTTL: time.Second}).withDefaults()
	cons, err := s.JS.CreateOrUpdateConsumer(ctx, natsx.StreamCounts, c.consumerConfig(0))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		m := nats.NewMsg(natsx.CountsSubject(0, false, "k"))
		m.Data = []byte{byte(i)}
		if _, err := s.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second), jetstream.FetchPriorityGroup(counterGroup))
	if err != nil {
		t.Fatal(err)
	}
	pin := ""
	for m := range batch.Messages() {
		pin = m.Headers().Get(pinHeader)
	}
	if pin == "" {
		t.Fatal("no pin id on the message")
	}
	o := newOwner(&c, 0)
	o.pin = pin
	if err := o.probePin(time.Second); err != nil {
		t.Errorf("probe with the pin: %v, want nil", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 1 {
		t.Errorf("%d messages awaiting ack after the probe, want 1 (the probe receives none)", info.NumAckPending)
	}
	// The client's pin id after a pull, once the pinned time has passed: kept by the probes,
	// lapsed without them.
	next := func() (string, error) {
		t.Helper()
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second), jetstream.FetchPriorityGroup(counterGroup))
		if err != nil {
			t.Fatal(err)
		}
		id := ""
		for m := range batch.Messages() {
			id = m.Headers().Get(pinHeader)
		}
		return id, batch.Error()
	}
	stop := o.keepPin(ctx)
	time.Sleep(2500 * time.Millisecond)
	stop()
	if got, err := next(); got != pin || err != nil {
		t.Errorf("after 2.5s of probes: pinned to %q (%v), want %q still", got, err, pin)
	}
	time.Sleep(2500 * time.Millisecond)
	if got, err := next(); !errors.Is(err, jetstream.ErrPinIDMismatch) && (got == pin || got == "") {
		t.Errorf("after 2.5s without probes nor pulls: pinned to %q (%v), want the pin lost", got, err)
	}
	o.pin = "another"
	if err := o.probePin(time.Second); !errors.Is(err, errFenced) {
		t.Errorf("probe with another pin id: %v, want errFenced", err)
	}
}
