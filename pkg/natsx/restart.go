package natsx

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// Resume runs start (KV watchers, for example) under a context of its own and runs it again
// each time the connection comes back after a loss: a watcher only notices a lost server after
// missing heartbeats, which would leave its copy stale for tens of seconds after NATS returns.
// The first start's error is returned; later ones are logged. The returned stop ends the
// current run; call it when the caller is done.
func Resume(ctx context.Context, nc *nats.Conn, start func(context.Context) error, log *zap.Logger) (stop func(), err error) {
	runCtx, cancel := context.WithCancel(ctx)
	if err := start(runCtx); err != nil {
		cancel()
		return func() {}, err
	}
	current := cancel
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		up := true
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-t.C:
			}
			now := nc.IsConnected()
			if now && !up {
				current()
				var next context.CancelFunc
				runCtx, next = context.WithCancel(ctx)
				current = next
				if err := start(runCtx); err != nil {
					log.Warn("restarting watchers after reconnect failed", zap.NamedError("err", err))
				}
			}
			up = now
		}
	}()
	return func() {
		close(done)
		<-stopped
		current()
	}, nil
}
