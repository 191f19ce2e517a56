package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
)

// jsServer is the harness's embedded JetStream server (file storage in dir) with a client
// connection. It can be restarted on the same store with another sync mode.
type jsServer struct {
	dir        string
	syncAlways bool
	srv        *server.Server
	nc         *nats.Conn
	js         jetstream.JetStream
}

// startServer starts a server on dir and provisions adjoin's streams and buckets.
func startServer(ctx context.Context, dir string, syncAlways bool) (*jsServer, error) {
	s := &jsServer{dir: dir}
	if err := s.start(syncAlways); err != nil {
		return nil, err
	}
	if err := natsx.Provision(ctx, s.js, natsx.NewTopology(1)); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *jsServer) start(syncAlways bool) error {
	srv, err := natsx.StartEmbedded(natsx.EmbeddedOptions{StoreDir: s.dir, Port: -1, SyncAlways: syncAlways})
	if err != nil {
		return err
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.Name("adjoin-bench"), nats.MaxReconnects(-1))
	if err != nil {
		srv.Shutdown()
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		srv.Shutdown()
		return err
	}
	s.srv, s.nc, s.js, s.syncAlways = srv, nc, js, syncAlways
	return nil
}

// setSync restarts the server on the same store when its sync mode is not syncAlways: the
// mode of a stream's file store is set from the server's options when the stream is loaded.
func (s *jsServer) setSync(syncAlways bool) error {
	if s.syncAlways == syncAlways {
		return nil
	}
	s.stop()
	return s.start(syncAlways)
}

func (s *jsServer) url() string { return s.srv.ClientURL() }

func (s *jsServer) stop() {
	if s.nc != nil {
		s.nc.Close()
	}
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
	}
}

// publishWindow is how many asynchronous publishes may wait for their acknowledgement.
const publishWindow = 2048

// publisher publishes asynchronously, at most publishWindow unacknowledged, and reports the
// first failure.
type publisher struct {
	js      jetstream.JetStream
	futures []jetstream.PubAckFuture
}

func (p *publisher) publish(msg *nats.Msg) error {
	if len(p.futures) >= publishWindow {
		if err := p.wait(publishWindow / 2); err != nil {
			return err
		}
	}
	f, err := p.js.PublishMsgAsync(msg)
	if err != nil {
		return fmt.Errorf("publish %s: %w", msg.Subject, err)
	}
	p.futures = append(p.futures, f)
	return nil
}

// wait waits for the oldest n acknowledgements, a minute at most.
func (p *publisher) wait(n int) error {
	n = min(n, len(p.futures))
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	for _, f := range p.futures[:n] {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish %s: %w", f.Msg().Subject, err)
		case <-timeout.C:
			return fmt.Errorf("publish %s: no acknowledgement within a minute", f.Msg().Subject)
		}
	}
	p.futures = append(p.futures[:0], p.futures[n:]...)
	return nil
}

// flush waits for every acknowledgement.
func (p *publisher) flush() error { return p.wait(len(p.futures)) }

// waitConsumer polls a durable consumer every poll until it has nothing pending and nothing
// unacknowledged, and returns when it saw that.
func waitConsumer(ctx context.Context, js jetstream.JetStream, stream, durable string, poll, within time.Duration) (time.Time, error) {
	deadline := time.Now().Add(within)
	for {
		cons, err := js.Consumer(ctx, stream, durable)
		if err == nil {
			var info *jetstream.ConsumerInfo
			if info, err = cons.Info(ctx); err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
				return time.Now(), nil
			}
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("work left")
			}
			return time.Time{}, fmt.Errorf("consumer %s on %s not drained within %s: %w", durable, stream, within, err)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(poll):
		}
	}
}
