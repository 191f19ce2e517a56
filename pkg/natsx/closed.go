package natsx

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// ErrConnClosed means a service's NATS connection closed for good. nats.go never reconnects a
// CLOSED connection (the server closed it with an error it treats as final, such as a control
// line over max_control_line), so a service that kept running would answer 503 forever while
// looking alive: it must exit and let its orchestrator start it again.
var ErrConnClosed = errors.New("nats connection closed for good")

// WatchClosed blocks until ctx ends, then returns nil, or until nc is closed, then returns an
// error wrapping ErrConnClosed and the connection's last error. A service runs it beside its
// work and returns its error from Run, so the process exits non-zero. Shutdown must end ctx
// before it closes or drains nc, or the deliberate close reads as a failure.
func WatchClosed(ctx context.Context, nc *nats.Conn) error {
	ch := nc.StatusChanged(nats.CLOSED)
	defer nc.RemoveStatusListener(ch)
	if nc.IsClosed() { // closed before the listener was registered
		return closedErr(nc)
	}
	select {
	case <-ctx.Done():
		return nil
	case <-ch:
		return closedErr(nc)
	}
}

// Live is the liveness check of a service (/healthz): it fails once nc is closed for good,
// unlike Ready, which also fails while NATS restarts and the connection will come back.
func Live(nc *nats.Conn) func(ctx context.Context) error {
	return func(context.Context) error {
		if nc.IsClosed() {
			return closedErr(nc)
		}
		return nil
	}
}

func closedErr(nc *nats.Conn) error {
	if last := nc.LastError(); last != nil {
		return fmt.Errorf("%w: %w", ErrConnClosed, last)
	}
	return ErrConnClosed
}
