package app

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/adjoin/adjoin/pkg/directory"
)

// slowFirstRead answers its first read only once released, with what it saw when it began.
type slowFirstRead struct {
	calls          atomic.Int32
	began, release chan struct{}
}

func (s *slowFirstRead) Facts(context.Context) (Facts, error) {
	if s.calls.Add(1) == 1 {
		close(s.began)
		<-s.release
		return Facts{IdentityEvents: 0}, nil // read before the event arrived
	}
	return Facts{IdentityEvents: 1}, nil
}

// TestStatusKeepsTheNewestRead: the metrics ticker's read began before a request's and ended
// after it; the facts kept for when NATS is gone are the request's, the newer.
func TestStatusKeepsTheNewestRead(t *testing.T) {
	t.Parallel()
	src := &slowFirstRead{began: make(chan struct{}), release: make(chan struct{})}
	var connected atomic.Bool
	connected.Store(true)
	s := &Status{Facts: src, View: NewView(), Index: directory.NewIndex(), Connected: connected.Load}
	ctx := context.Background()
	slow := make(chan uint64)
	go func() {
		resp, _ := s.Get(ctx)
		slow <- resp.GetIdentity().GetEvents()
	}()
	<-src.began
	if resp, _ := s.Get(ctx); resp.GetIdentity().GetEvents() != 1 {
		t.Fatalf("request: %d events, want 1", resp.GetIdentity().GetEvents())
	}
	close(src.release)
	if got := <-slow; got != 1 {
		t.Errorf("the slow read answered %d events, want the newer 1", got)
	}
	connected.Store(false)
	if resp, _ := s.Get(ctx); resp.GetIdentity().GetEvents() != 1 || resp.GetIdentity().GetLastError() == "" {
		t.Errorf("without NATS: %d events (%q), want the last known 1 and a last error", resp.GetIdentity().GetEvents(), resp.GetIdentity().GetLastError())
	}
}
