// Package service is the runtime every adjoin service starts with: its settings validated, its
// metrics, its NATS connection (client name "adjoin-<name>") and JetStream, its heartbeat, its
// health checks, and its workers in one errgroup with one shutdown. When ctx ends or a worker
// fails, the workers stop, the cleanups run, the last heartbeat is written, and the NATS
// connection is drained and waited for until it is closed, so no acknowledgement or publish of
// a finished message is left in the client's buffers when the process exits.
package service

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/adjoin/adjoin/pkg/heartbeat"
	"github.com/adjoin/adjoin/pkg/httpx"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/svcmain"
)

// Options say which service starts.
type Options struct {
	// Name is the service name: the "service" field of its logs, its heartbeat, and its NATS
	// client name "adjoin-<Name>".
	Name string
	// Config is the service's settings, validated before anything starts.
	Config interface{ Validate() error }
	// NATS is where and how the service connects.
	NATS natsx.Settings
	// Metrics is shared when several services run in one process; nil makes a new one.
	Metrics *metrics.Metrics
}

// Runtime is a started service: what its wiring needs, and its workers.
type Runtime struct {
	// Log carries the service name and records the last error for the heartbeat.
	Log     *zap.Logger
	NC      *nats.Conn
	JS      jetstream.JetStream
	Metrics *metrics.Metrics
	// Counters are carried by the service's heartbeat (the DC traffic sensor's counts).
	Counters *heartbeat.Counters

	replicas      int
	ctx           context.Context
	cancel        context.CancelCauseFunc
	g             *errgroup.Group
	onStop        []func()
	stopHeartbeat func()
}

// Start validates the settings, connects to NATS once the topology exists, starts the
// heartbeat, and watches the connection: one closed for good (nats.go never rebuilds it) ends
// the service with an error wrapping natsx.ErrConnClosed. Every Start must be followed by Wait
// or Stop.
func Start(ctx context.Context, o Options, log *zap.Logger) (*Runtime, error) {
	if o.Config != nil {
		if err := o.Config.Validate(); err != nil {
			return nil, err
		}
	}
	log = log.With(zap.String("service", o.Name))
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	o.NATS.Name = "adjoin-" + o.Name
	nc, js, err := natsx.Setup(ctx, o.NATS.ConnectOptions, o.NATS.Replicas, log)
	if err != nil {
		return nil, err
	}
	// The heartbeat outlives ctx: its "stopped" beat is written after the workers stopped.
	log, counters, stopHeartbeat := heartbeat.Start(context.WithoutCancel(ctx), js, o.Name, svcmain.Version(), log)
	ctx, cancel := context.WithCancelCause(ctx)
	g, gctx := errgroup.WithContext(ctx)
	r := &Runtime{Log: log, NC: nc, JS: js, Metrics: o.Metrics, Counters: counters, replicas: o.NATS.Replicas,
		ctx: gctx, cancel: cancel, g: g, stopHeartbeat: stopHeartbeat}
	r.Go(func(ctx context.Context) error { return natsx.WatchClosed(ctx, nc) })
	return r, nil
}

// Run starts the service, lets wire build it on the runtime and start its workers with Go,
// and returns when it has stopped (see Wait); a wiring error stops it at once (see Stop).
// Wiring runs under the runtime's ctx: a long start (a directory loading, logons catching up)
// ends as soon as the service must stop, the connection closed for good included.
func Run(ctx context.Context, o Options, log *zap.Logger, wire func(context.Context, *Runtime) error) error {
	r, err := Start(ctx, o, log)
	if err != nil {
		return err
	}
	if err := wire(r.ctx, r); err != nil {
		return r.Stop(err)
	}
	return r.Wait()
}

// Go runs worker until the service stops; its ctx ends when the caller's does or when any
// worker returns an error. A worker returns once it has finished what it holds (the batch in
// hand acknowledged, the requests in flight answered).
func (r *Runtime) Go(worker func(ctx context.Context) error) {
	r.g.Go(func() error { return worker(r.ctx) })
}

// OnStop registers cleanup to run after every worker returned and before the connection is
// drained (KV watchers, sync loops); cleanups run last registered first.
func (r *Runtime) OnStop(cleanup func()) { r.onStop = append(r.onStop, cleanup) }

// Live is the liveness check (/healthz): it fails once the connection is closed for good.
func (r *Runtime) Live() httpx.Check { return natsx.Live(r.NC) }

// Ready is the readiness check (/readyz): connected, and every stream and bucket present.
func (r *Runtime) Ready() httpx.Check { return natsx.Ready(r.NC, r.JS, r.replicas) }

// HealthMux serves /healthz, /readyz and /metrics.
func (r *Runtime) HealthMux() *http.ServeMux {
	return httpx.NewMux(r.Live(), r.Ready(), r.Metrics.Handler())
}

// Serve serves h on ln as a worker, waiting up to grace for requests in flight at shutdown.
func (r *Runtime) Serve(ln net.Listener, h http.Handler, grace time.Duration) {
	r.Go(func(ctx context.Context) error { return httpx.Serve(ctx, ln, h, grace, r.Log) })
}

// Wait blocks until ctx ends or a worker fails, then shuts down: it waits for every worker,
// runs the cleanups, writes the last heartbeat, drains the NATS connection and waits until it
// is closed. It returns the first worker error.
func (r *Runtime) Wait() error {
	err := r.g.Wait()
	r.cancel(nil)
	for i := len(r.onStop) - 1; i >= 0; i-- {
		r.onStop[i]()
	}
	r.stopHeartbeat()
	if derr := drain(r.NC, drainWait); derr != nil {
		r.Log.Warn("nats connection not drained", logx.Err(derr))
	}
	return err
}

// Stop shuts down as Wait does because wiring failed with cause after Start, and returns cause.
func (r *Runtime) Stop(cause error) error {
	r.cancel(cause)
	_ = r.Wait()
	return cause
}
