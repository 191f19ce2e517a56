package natsx_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// stallingJS answers its first stalls publishes as a client whose async window stayed full
// past the stall wait does, then publishes for real: the window is shared by every request on
// the connection, so another request's burst is enough to make this happen.
type stallingJS struct {
	jetstream.JetStream
	stalls *int
}

func (s stallingJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if *s.stalls > 0 {
		*s.stalls--
		return nil, jetstream.ErrTooManyStalledMsgs
	}
	return s.JetStream.PublishMsgAsync(m, opts...)
}

func TestBatchFullWindow(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	cancelled, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("sender went away"))
	tests := []struct {
		name    string
		batch   func(js jetstream.JetStream) *natsx.Batch
		wantErr string // "" : stored
	}{
		{name: "with a context: waits for a slot", batch: func(js jetstream.JetStream) *natsx.Batch {
			return natsx.NewBatchContext(testCtx(t), js)
		}},
		{name: "without: fails at once", batch: natsx.NewBatch, wantErr: jetstream.ErrTooManyStalledMsgs.Error()},
		{name: "context ended: fails with its cause", batch: func(js jetstream.JetStream) *natsx.Batch {
			return natsx.NewBatchContext(cancelled, js)
		}, wantErr: "sender went away"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stalls := 3
			b := tt.batch(stallingJS{JetStream: srv.JS, stalls: &stalls})
			msg, _ := natsx.NewMsg("alerts.endpoint.edr", "stall-"+tt.name, testAlert())
			err := b.Add(msg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
					t.Fatalf("Add = %v, want an error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Add = %v, want the message published once a slot frees", err)
			}
			if dups, err := b.Wait(testCtx(t)); err != nil || dups != 0 {
				t.Fatalf("Wait = %d, %v", dups, err)
			}
			if n := streamMsgs(t, srv.JS, natsx.StreamAlerts); n != 1 {
				t.Errorf("ALERTS holds %d messages, want 1", n)
			}
		})
	}
}

// A repeat of a pending id is counted, not published again: a body of a million identical
// refused lines must not cost a million publishes.
func TestBatchRepeatsNotRepublished(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	published := 0
	b := natsx.NewBatchContext(testCtx(t), countingJS{JetStream: srv.JS, n: &published})
	for round := range 3 {
		for range 1000 {
			if err := b.Add(natsx.DeadLetterMsg("dcingest", "not-json", []byte("x"), "e", "o")); err != nil {
				t.Fatal(err)
			}
		}
		if b.Len() != 1000 {
			t.Errorf("Len = %d, want 1000", b.Len())
		}
		dups, err := b.Wait(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		// The first batch stores the copy; the others find it stored.
		want := 1000
		if round == 0 {
			want = 999
		}
		if dups != want {
			t.Errorf("batch %d: duplicates = %d, want %d", round, dups, want)
		}
	}
	if published != 3 {
		t.Errorf("published %d times, want once per batch (3)", published)
	}
	if n := streamMsgs(t, srv.JS, natsx.StreamDeadLetter); n != 1 {
		t.Errorf("DEADLETTER holds %d messages, want 1", n)
	}
}

type countingJS struct {
	jetstream.JetStream
	n *int
}

func (c countingJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	*c.n++
	return c.JetStream.PublishMsgAsync(m, opts...)
}
