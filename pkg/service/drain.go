package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// drainWait bounds the wait for a drained connection to close: nats.go gives up a drain after
// its DrainTimeout (30s by default) and closes the connection itself; this bound only keeps a
// shutdown from hanging should that close never come.
const drainWait = 35 * time.Second

// drain drains nc (subscriptions first, then the buffered publishes and acknowledgements) and
// waits until it is closed, at most wait; past it nc is closed at once. nc.Drain alone returns
// at once, and a process that exits then loses what was still buffered.
func drain(nc *nats.Conn, wait time.Duration) error {
	closed := nc.StatusChanged(nats.CLOSED)
	defer nc.RemoveStatusListener(closed)
	if nc.IsClosed() { // closed for good before the shutdown; nothing left to send
		return nil
	}
	if err := nc.Drain(); err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return nil
		}
		nc.Close()
		return fmt.Errorf("nats drain: %w", err)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-closed:
		return nil
	case <-t.C:
		nc.Close()
		return fmt.Errorf("nats drain: connection not closed after %s", wait)
	}
}
