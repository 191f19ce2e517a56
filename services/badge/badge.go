// Package badge is the badge service: it answers other services over gRPC with per-entity
// badges (alert counts per side, greyed when a side does not know the entity), entity
// timelines, the resumable correlated stream, and the integration status and toggles. Requests
// are served from an in-memory view kept current by watching the KV buckets.
package badge

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/heartbeat"
	"github.com/adjoin/adjoin/pkg/httpx"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/svcmain"
	"github.com/adjoin/adjoin/services/badge/internal/adapters"
	"github.com/adjoin/adjoin/services/badge/internal/app"
	"github.com/adjoin/adjoin/services/badge/internal/ports"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// Name is the service name used in logs and NATS client names.
const Name = "badge"

// Defaults of the stream limits: enough for a portal or a SIEM connector per client, and a
// bound on what all clients together may hold.
const (
	DefaultMaxStreamsPerClient = 16
	DefaultMaxStreams          = 1000
)

// streamWorkersPerCPU is how many gRPC stream workers (grpc.NumStreamWorkers) the server keeps
// per CPU: enough that concurrent GetBadge calls find one idle; a stream that finds none gets a
// goroutine of its own, as without workers.
const streamWorkersPerCPU = 4

// Config is every setting of the badge service.
type Config struct {
	NATS     natsx.Settings
	GRPCAddr string
	// Listener, when set, is used instead of listening on GRPCAddr.
	Listener      net.Listener
	ShutdownGrace time.Duration
	// IdentityLink and EndpointLink are deep link templates ({entityKey}, {sid}, {deviceId},
	// {dnsName}, {sam}); adjoin_config link.identity / link.endpoint override them at run time.
	IdentityLink, EndpointLink string
	// CorrelatorDurable is the correlator's consumer, read for the lag of the status page.
	CorrelatorDurable string
	Security          Security
	// MaxConcurrentStreams bounds the streams (watches, correlated streams) of one connection.
	MaxConcurrentStreams int
	// MaxStreamsPerClient and MaxStreams bound the streams open at once per client (its
	// identity when callers are checked, else its address) and in all.
	MaxStreamsPerClient, MaxStreams int
	// DefaultDeadline is given to unary calls that come without one, except those answered
	// from memory (GetBadge, BatchGetBadges), which never wait.
	DefaultDeadline time.Duration
	// HTTPAddr serves /metrics, /healthz and /readyz; empty (and no HTTPListener) serves none.
	HTTPAddr     string
	HTTPListener net.Listener
	// Metrics is shared when several services run in one process; nil makes a new one.
	Metrics *metrics.Metrics
	// BadgeCache is how many GetBadge answers are kept built (the entities asked about most
	// recently).
	BadgeCache int
}

// Flags defines the settings on s.
func (c *Config) Flags(s *config.Set) {
	c.NATS.Flags(s)
	s.String(&c.GRPCAddr, "grpc-addr", ":9090", "address of the gRPC BadgeService, health and reflection")
	s.Duration(&c.ShutdownGrace, "shutdown-grace", 10*time.Second, "time allowed for RPCs in flight at shutdown")
	s.String(&c.IdentityLink, "identity-link", "", "deep link template of the identity side, e.g. https://itdr.example/entities/{sid}")
	s.String(&c.EndpointLink, "endpoint-link", "", "deep link template of the endpoint side, e.g. https://edr.example/machines/{deviceId}")
	s.String(&c.CorrelatorDurable, "correlator-durable", "correlator", "the correlator's consumer name, for the lag on the status page")
	s.Int(&c.MaxConcurrentStreams, "max-concurrent-streams", 1000, "most concurrent streams per client connection")
	s.Int(&c.MaxStreamsPerClient, "max-streams-per-client", DefaultMaxStreamsPerClient, "most streams (watches, correlated streams) one client may hold open at once")
	s.Int(&c.MaxStreams, "max-streams", DefaultMaxStreams, "most streams open at once over all clients")
	s.Duration(&c.DefaultDeadline, "default-deadline", 10*time.Second, "deadline given to unary calls that come without one (not GetBadge and BatchGetBadges: answered from memory, nothing in them waits)")
	s.String(&c.HTTPAddr, "http-addr", ":9091", "address of /metrics, /healthz and /readyz (empty: none)")
	s.Int(&c.BadgeCache, "badge-cache", app.DefaultAnswers, "most badge answers kept built, for the entities asked about most recently (about 1 KB each)")
	c.Security.Flags(s)
}

// DefaultConfig is the Config the flags give when none is set. The flag definitions are the
// one place of the defaults; code that builds a Config (tests, adjoin dev) starts from this.
func DefaultConfig() Config {
	var c Config
	config.Defaults(c.Flags)
	return c
}

// Validate reports the first bad setting by name.
func (c Config) Validate() error {
	if err := c.NATS.Validate(); err != nil {
		return err
	}
	switch {
	case c.Listener == nil && c.GRPCAddr == "":
		return fmt.Errorf("grpc-addr: required")
	case c.ShutdownGrace <= 0:
		return fmt.Errorf("shutdown-grace: %s, want > 0", c.ShutdownGrace)
	case c.MaxConcurrentStreams < 0:
		return fmt.Errorf("max-concurrent-streams: %d, want >= 0", c.MaxConcurrentStreams)
	case c.CorrelatorDurable == "":
		return fmt.Errorf("correlator-durable: required")
	case c.MaxStreamsPerClient < 1:
		return fmt.Errorf("max-streams-per-client: %d, want >= 1", c.MaxStreamsPerClient)
	case c.MaxStreams < 1:
		return fmt.Errorf("max-streams: %d, want >= 1", c.MaxStreams)
	case c.DefaultDeadline < 0:
		return fmt.Errorf("default-deadline: %s, want >= 0", c.DefaultDeadline)
	case c.BadgeCache < 1:
		return fmt.Errorf("badge-cache: %d, want >= 1", c.BadgeCache)
	}
	if err := c.Security.Validate(); err != nil {
		return err
	}
	if c.Listener != nil { // opened by the embedder (tests, adjoin dev), who chose its address
		return nil
	}
	return c.Security.settings().CheckListen("grpc-addr", c.GRPCAddr)
}

// Run serves gRPC until ctx ends, then reports NOT_SERVING, stops gracefully (bounded by
// ShutdownGrace) and drains NATS. Health is NOT_SERVING while NATS is unreachable.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log = log.With(zap.String("service", Name))
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	cfg.NATS.Name = "adjoin-" + Name
	nc, js, err := natsx.Setup(ctx, cfg.NATS.ConnectOptions, cfg.NATS.Replicas, log)
	if err != nil {
		return err
	}
	defer nc.Drain() //nolint:errcheck // best effort at exit
	log, stopHeartbeat := heartbeat.Start(ctx, js, Name, svcmain.Version(), log)
	defer stopHeartbeat()

	var store adapters.KVStore
	for _, b := range []struct {
		kv   *jetstream.KeyValue
		name string
	}{{&store.Badges, natsx.BucketBadges}, {&store.Devices, natsx.BucketDevices}, {&store.Config, natsx.BucketConfig}} {
		if *b.kv, err = js.KeyValue(ctx, b.name); err != nil {
			return fmt.Errorf("bucket %s: %w", b.name, err)
		}
	}
	dirKV, err := js.KeyValue(ctx, natsx.BucketDirectory)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", natsx.BucketDirectory, err)
	}
	view := app.NewView()
	// The watchers run under their own context so that they can be started again after NATS
	// comes back: a watcher only notices a lost server after missing heartbeats, which would
	// leave badges stale for tens of seconds while health already says SERVING.
	index := directory.NewIndex()
	var dirChanged atomic.Int64
	// During the first load nothing is cached and nobody watches yet: one notice for all its
	// entities after it, rather than one per entity (a second of start-up at 1M entities).
	var loaded atomic.Bool
	index.OnChange = func(key string) {
		dirChanged.Store(time.Now().UnixNano())
		if loaded.Load() {
			view.Changed(key)
		}
	}
	badges := &app.Badges{Index: index, Store: view, Links: app.Links{
		Identity: cfg.IdentityLink, Endpoint: cfg.EndpointLink,
		Override: func(side adjoinv1.Side) (string, bool) { return view.Config(app.LinkKey(side)) },
	}}
	badges.Answers = app.NewAnswers(badges, cfg.BadgeCache)
	view.OnChange = badges.Answers.Changed // before the watchers: every change reaches the answers
	stopWatchers, err := natsx.Resume(ctx, nc, func(wctx context.Context) error {
		if err := store.Follow(wctx, view, log); err != nil {
			return err
		}
		if err := index.Follow(wctx, dirKV, log); err != nil {
			return err
		}
		if !loaded.Swap(true) {
			view.Changed(app.AllKeys) // also covers a change that came between the load and the swap
		}
		return nil
	}, log)
	if err != nil {
		return err
	}
	defer stopWatchers()
	counts, devices := view.Size()
	log.Info("view loaded", zap.Int("entities", index.Len()), zap.Int("counted", counts), zap.Int("devices", devices))

	statusKV, err := js.KeyValue(ctx, natsx.BucketStatus)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", natsx.BucketStatus, err)
	}
	statusApp := &app.Status{Facts: adapters.Facts{JS: js, CorrelatorDurable: cfg.CorrelatorDurable, Status: statusKV}, Config: store,
		View: view, Index: index, Connected: nc.IsConnected,
		DirectoryChanged: func() time.Time {
			if n := dirChanged.Load(); n > 0 {
				return time.Unix(0, n)
			}
			return time.Time{}
		}}
	opts, auth, err := cfg.Security.ServerOptions()
	if err != nil {
		return err
	}
	opts = append(opts, grpc.ChainUnaryInterceptor(ports.MetricsUnary(cfg.Metrics)), grpc.ChainStreamInterceptor(ports.MetricsStream(cfg.Metrics)))
	opts = append(opts, auth.Interceptors(cfg.DefaultDeadline)...)
	opts = append(opts, grpc.ChainStreamInterceptor(ports.NewStreamLimiter(
		cfg.MaxStreamsPerClient, cfg.MaxStreams, auth).Interceptor()))
	opts = append(opts, grpc.MaxRecvMsgSize(4<<20), grpc.MaxConcurrentStreams(uint32(cfg.MaxConcurrentStreams)))
	// Calls run on long-lived workers (a new goroutine only when all are busy): a goroutine per
	// call would grow its stack again on every GetBadge, a tenth of the server's CPU in them.
	opts = append(opts, grpc.NumStreamWorkers(uint32(streamWorkersPerCPU*runtime.GOMAXPROCS(0))))
	srv := grpc.NewServer(opts...)
	stopping := make(chan struct{})
	adjoinv1.RegisterBadgeServiceServer(srv, &ports.GRPCServer{Badges: badges, View: view, Status: statusApp,
		Correlated: adapters.CorrelatedStream{JS: js}, Log: log, Stopping: stopping})
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	setHealth := func(serving bool) {
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if serving {
			st = healthpb.HealthCheckResponse_SERVING
		}
		hs.SetServingStatus("", st)
		hs.SetServingStatus(adjoinv1.BadgeService_ServiceDesc.ServiceName, st)
	}
	setHealth(true)

	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
			return fmt.Errorf("grpc-addr %s: %w", cfg.GRPCAddr, err)
		}
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	httpCtx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHTTP()
	if cfg.HTTPListener != nil || cfg.HTTPAddr != "" {
		hln, err := httpx.Listen(cfg.HTTPListener, cfg.HTTPAddr)
		if err != nil {
			srv.Stop()
			return err
		}
		mux := httpx.NewMux(natsx.Live(nc), natsx.Ready(nc, js, cfg.NATS.Replicas), cfg.Metrics.Handler())
		go func() {
			if err := httpx.Serve(httpCtx, hln, mux, time.Second, log); err != nil {
				errc <- err
			}
		}()
	}
	logListening(ctx, log, ln.Addr().String(), cfg.Security, auth)
	go func() { // the status page's facts as metrics, from the same reads
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			if st, err := statusApp.Get(ctx); err == nil {
				cfg.Metrics.SetStatus(st)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	// A connection closed for good is never rebuilt: the server stops and Run returns the error.
	closed := make(chan error, 1)
	go func() { closed <- natsx.WatchClosed(ctx, nc) }()
	var fatal error
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	serving := true
	for {
		select {
		case err := <-errc:
			return fmt.Errorf("grpc serve: %w", err)
		case fatal = <-closed:
			if fatal == nil { // ctx ended
				continue
			}
		case <-tick.C:
			if up := nc.IsConnected(); up != serving {
				serving = up
				setHealth(up)
				log.Warn("health changed with the NATS connection", zap.Bool("serving", up))
			}
			continue
		case <-ctx.Done():
		}
		break
	}
	hs.Shutdown()
	close(stopping)
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(cfg.ShutdownGrace):
		srv.Stop()
	}
	return fatal
}
