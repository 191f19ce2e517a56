package badge_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// follower reads a StreamCorrelated stream in the background.
type follower struct {
	msgs   chan *adjoinv1.StreamCorrelatedResponse
	errc   chan error
	cancel context.CancelFunc
}

func follow(t *testing.T, h *harness, req *adjoinv1.StreamCorrelatedRequest) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := h.client.StreamCorrelated(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	f := &follower{msgs: make(chan *adjoinv1.StreamCorrelatedResponse, 100), errc: make(chan error, 1), cancel: cancel}
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				f.errc <- err
				return
			}
			f.msgs <- m
		}
	}()
	return f
}

// take returns the next n messages, failing the test when they do not come within 5s.
func (f *follower) take(t *testing.T, n int) []*adjoinv1.StreamCorrelatedResponse {
	t.Helper()
	var out []*adjoinv1.StreamCorrelatedResponse
	timeout := time.After(5 * time.Second)
	for len(out) < n {
		select {
		case m := <-f.msgs:
			out = append(out, m)
		case err := <-f.errc:
			t.Fatalf("stream ended after %d of %d messages: %v", len(out), n, err)
		case <-timeout:
			t.Fatalf("%d of %d messages within 5s", len(out), n)
		}
	}
	return out
}

func (f *follower) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-f.msgs:
		t.Fatalf("unexpected message %s at cursor %d", m.GetCorrelated().GetAlert().GetId(), m.GetCursor())
	case err := <-f.errc:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(d):
	}
}

// ids returns the alert ids of msgs, checking that cursors increase and match subjects.
func ids(t *testing.T, msgs []*adjoinv1.StreamCorrelatedResponse, after uint64) []string {
	t.Helper()
	var out []string
	for _, m := range msgs {
		if m.GetCursor() <= after {
			t.Errorf("cursor %d after %d: not increasing", m.GetCursor(), after)
		}
		after = m.GetCursor()
		ca := m.GetCorrelated()
		if want := natsx.CorrelatedSubject(ca.GetEntityKey() == keyWS6, ca.GetEntityKey()); m.GetSubject() != want {
			t.Errorf("message %s on subject %q, want %q", ca.GetAlert().GetId(), m.GetSubject(), want)
		}
		out = append(out, ca.GetAlert().GetId())
	}
	return out
}

// stored publishes alert n for key, on the computer subject for WORKSTATION6.
func (h *harness) stored(t *testing.T, key string, n int) (string, uint64) {
	t.Helper()
	id := fmt.Sprintf("%s-alert-%d", key[len(key)-4:], n)
	seqs := h.publishCorrelated(t, key == keyWS6, correlated(key, id, adjoinv1.Side_SIDE_IDENTITY, 1, at(6, n)))
	return id, seqs[0]
}

func TestStreamCorrelated(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	// History: alerts 1-6, alternating between pgustavo and WORKSTATION6.
	var history, pgHistory []string
	for n := 1; n <= 6; n++ {
		key := keyPgustavo
		if n%2 == 0 {
			key = keyWS6
		}
		id, _ := h.stored(t, key, n)
		history = append(history, id)
		if key == keyPgustavo {
			pgHistory = append(pgHistory, id)
		}
	}

	t.Run("cursor 0 from the oldest, then live", func(t *testing.T) {
		f := follow(t, h, &adjoinv1.StreamCorrelatedRequest{})
		if got := ids(t, f.take(t, len(history)), 0); !slices.Equal(got, history) {
			t.Errorf("alerts %v, want %v", got, history)
		}
		f.quiet(t, 100*time.Millisecond)
	})

	t.Run("reconnect with the last cursor", func(t *testing.T) {
		// First connection: the first four, then gone.
		f := follow(t, h, &adjoinv1.StreamCorrelatedRequest{})
		first := f.take(t, 4)
		if got := ids(t, first, 0); !slices.Equal(got, history[:4]) {
			t.Fatalf("first connection %v, want %v", got, history[:4])
		}
		cursor := first[len(first)-1].GetCursor()
		f.cancel()

		// Published while disconnected.
		var later []string
		for n := 7; n <= 9; n++ {
			id, _ := h.stored(t, keyPgustavo, n)
			later = append(later, id)
		}
		want := append(slices.Clone(history[4:]), later...)
		f = follow(t, h, &adjoinv1.StreamCorrelatedRequest{Cursor: cursor})
		if got := ids(t, f.take(t, len(want)), cursor); !slices.Equal(got, want) {
			t.Errorf("after reconnecting %v, want %v", got, want)
		}
		// And live ones, none twice.
		id, seq := h.stored(t, keyWS6, 10)
		m := f.take(t, 1)[0]
		if m.GetCorrelated().GetAlert().GetId() != id || m.GetCursor() != seq {
			t.Errorf("live message %s at %d, want %s at %d", m.GetCorrelated().GetAlert().GetId(), m.GetCursor(), id, seq)
		}
		history = append(append(history, later...), id)
		pgHistory = append(pgHistory, later...)
		f.quiet(t, 100*time.Millisecond)
	})

	t.Run("cursor at the end waits for new messages", func(t *testing.T) {
		_, last := h.stored(t, keyPgustavo, 11)
		f := follow(t, h, &adjoinv1.StreamCorrelatedRequest{Cursor: last})
		f.quiet(t, 200*time.Millisecond)
		id, seq := h.stored(t, keyPgustavo, 12)
		if m := f.take(t, 1)[0]; m.GetCorrelated().GetAlert().GetId() != id || m.GetCursor() != seq {
			t.Errorf("message %v, want %s at %d", m, id, seq)
		}
		pgHistory = append(pgHistory, fmt.Sprintf("%s-alert-11", keyPgustavo[len(keyPgustavo)-4:]), id)
	})

	t.Run("one entity's subject only", func(t *testing.T) {
		f := follow(t, h, &adjoinv1.StreamCorrelatedRequest{Selectors: []*adjoinv1.EntitySelector{byQuery("pgustavo@theshire.local")}})
		if got := ids(t, f.take(t, len(pgHistory)), 0); !slices.Equal(got, pgHistory) {
			t.Errorf("alerts %v, want %v", got, pgHistory)
		}
		h.stored(t, keyWS6, 13)
		id, _ := h.stored(t, keyPgustavo, 14)
		if got := ids(t, f.take(t, 1), 0); got[0] != id {
			t.Errorf("live alert %s, want %s (WORKSTATION6's skipped)", got[0], id)
		}
	})

	t.Run("new_only skips history", func(t *testing.T) {
		_, lastHistory := h.stored(t, keyWS6, 15)
		f := follow(t, h, &adjoinv1.StreamCorrelatedRequest{NewOnly: true})
		// The stream has no way to say it is ready: publish until the first message comes.
		deadline := time.Now().Add(5 * time.Second)
		var published []string
		for n := 16; ; n++ {
			id, _ := h.stored(t, keyPgustavo, n)
			published = append(published, id)
			select {
			case m := <-f.msgs:
				if m.GetCursor() <= lastHistory || !slices.Contains(published, m.GetCorrelated().GetAlert().GetId()) {
					t.Fatalf("first message %s at %d: from the history (last at %d)", m.GetCorrelated().GetAlert().GetId(), m.GetCursor(), lastHistory)
				}
				return
			case err := <-f.errc:
				t.Fatal(err)
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatal("no new message within 5s")
			}
		}
	})

	t.Run("no selector includes excluded and unresolved alerts", func(t *testing.T) {
		_, last := h.stored(t, keyPgustavo, 30)
		all := follow(t, h, &adjoinv1.StreamCorrelatedRequest{Cursor: last})
		pg := follow(t, h, &adjoinv1.StreamCorrelatedRequest{Cursor: last, Selectors: []*adjoinv1.EntitySelector{bySID(keyPgustavo)}})
		for _, subject := range []string{natsx.SubjectExcluded, natsx.SubjectUnresolved} {
			ca := &adjoinv1.CorrelatedAlert{Alert: &adjoinv1.Alert{Id: "cloud-" + subject}, Reason: "cloud-only identity"}
			h.publish(t, subject, subject, ca)
		}
		id, _ := h.stored(t, keyPgustavo, 31)
		var subjects []string
		for _, m := range all.take(t, 3) {
			subjects = append(subjects, m.GetSubject())
		}
		if want := []string{natsx.SubjectExcluded, natsx.SubjectUnresolved, natsx.CorrelatedSubject(false, keyPgustavo)}; !slices.Equal(subjects, want) {
			t.Errorf("subjects %v, want %v", subjects, want)
		}
		if m := pg.take(t, 1)[0]; m.GetCorrelated().GetAlert().GetId() != id {
			t.Errorf("pgustavo's stream got %s, want %s", m.GetCorrelated().GetAlert().GetId(), id)
		}
	})

	t.Run("invalid selectors", func(t *testing.T) {
		tests := []struct {
			name    string
			sel     *adjoinv1.EntitySelector
			wantErr codes.Code
		}{
			{"unknown", bySID(shireDomainSID + "-4242"), codes.NotFound},
			{"malformed", bySID("S-x"), codes.InvalidArgument},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := follow(t, h, &adjoinv1.StreamCorrelatedRequest{Selectors: []*adjoinv1.EntitySelector{bySID(keyPgustavo), tt.sel}})
				select {
				case err := <-f.errc:
					if got := status.Code(err); got != tt.wantErr {
						t.Errorf("code %s (%v), want %s", got, err, tt.wantErr)
					}
				case m := <-f.msgs:
					t.Errorf("message %v, want %s", m, tt.wantErr)
				case <-time.After(5 * time.Second):
					t.Errorf("no error within 5s, want %s", tt.wantErr)
				}
			})
		}
	})
}
