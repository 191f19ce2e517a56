package badge

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/httpx"
	"github.com/adjoin/adjoin/pkg/service"
	"github.com/adjoin/adjoin/services/badge/internal/adapters"
	"github.com/adjoin/adjoin/services/badge/internal/app"
	"github.com/adjoin/adjoin/services/badge/internal/ports"
)

// start wires the service on rt: the view loaded from the buckets, the gRPC server, the
// /metrics and health side, and the status page's facts as metrics.
func start(ctx context.Context, rt *service.Runtime, cfg Config) error {
	b, err := openBuckets(ctx, rt.JS)
	if err != nil {
		return err
	}
	v, err := loadView(ctx, rt, cfg, b)
	if err != nil {
		return err
	}
	if cfg.Loaded != nil {
		cfg.Loaded()
	}
	status := v.status(rt, cfg, b)
	stopping := make(chan struct{})
	api := &ports.GRPCServer{Badges: v.badges, View: v.view, Status: status, Incidents: v.incidents,
		Correlated: adapters.CorrelatedStream{JS: rt.JS}, Log: rt.Log, Stopping: stopping, MaxWatchesOfAll: cfg.MaxWatchesOfAll}
	srv, hs, auth, err := grpcServer(cfg, api)
	if err != nil {
		return err
	}
	ln, err := httpx.Listen(cfg.Listener, cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("grpc-addr: %w", err)
	}
	if cfg.HTTPListener != nil || cfg.HTTPAddr != "" {
		hln, err := httpx.Listen(cfg.HTTPListener, cfg.HTTPAddr)
		if err != nil {
			ln.Close()
			return err
		}
		mux := rt.HealthMux()
		if cfg.Console {
			if hln, err = serveConsole(ctx, rt, cfg, mux, hln, api, auth, v.view); err != nil {
				ln.Close()
				return err
			}
		}
		rt.Serve(hln, mux, time.Second)
	}
	logListening(ctx, rt.Log, ln.Addr().String(), cfg.Security, auth)
	rt.Go(func(ctx context.Context) error { return serveGRPC(ctx, srv, hs, ln, stopping, cfg.ShutdownGrace) })
	rt.Go(func(ctx context.Context) error { followNATS(ctx, rt.NC, hs, rt.Log); return nil })
	rt.Go(func(ctx context.Context) error { statusMetrics(ctx, status, v.incidents, cfg); return nil })
	return nil
}

// streamWorkersPerCPU is how many gRPC stream workers (grpc.NumStreamWorkers) the server keeps
// per CPU: enough that concurrent GetBadge calls find one idle; a stream that finds none gets a
// goroutine of its own, as without workers.
const streamWorkersPerCPU = 4

// grpcServer builds the gRPC server with its security, limits and metrics, the BadgeService
// api, health (SERVING) and reflection.
func grpcServer(cfg Config, api *ports.GRPCServer) (*grpc.Server, *health.Server, *ports.Auth, error) {
	opts, auth, err := cfg.Security.ServerOptions()
	if err != nil {
		return nil, nil, nil, err
	}
	opts = append(opts, grpc.ChainUnaryInterceptor(ports.MetricsUnary(cfg.Metrics)), grpc.ChainStreamInterceptor(ports.MetricsStream(cfg.Metrics)))
	opts = append(opts, auth.Interceptors(cfg.DefaultDeadline)...)
	opts = append(opts, grpc.ChainStreamInterceptor(ports.NewStreamLimiter(cfg.MaxStreamsPerClient, cfg.MaxStreams, auth).Interceptor()))
	opts = append(opts, grpc.MaxRecvMsgSize(4<<20), grpc.MaxConcurrentStreams(uint32(cfg.MaxConcurrentStreams)))
	// Calls run on long-lived workers (a new goroutine only when all are busy): a goroutine per
	// call would grow its stack again on every GetBadge, a tenth of the server's CPU in them.
	opts = append(opts, grpc.NumStreamWorkers(uint32(streamWorkersPerCPU*runtime.GOMAXPROCS(0))))
	srv := grpc.NewServer(opts...)
	adjoinv1.RegisterBadgeServiceServer(srv, api)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	setHealth(hs, true)
	return srv, hs, auth, nil
}

// serveGRPC serves until ctx ends, then reports NOT_SERVING, ends open streams (stopping) and
// stops gracefully, cutting the calls still running after grace.
func serveGRPC(ctx context.Context, srv *grpc.Server, hs *health.Server, ln net.Listener, stopping chan struct{}, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("grpc serve: %w", err)
	case <-ctx.Done():
	}
	hs.Shutdown()
	close(stopping)
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		srv.Stop()
	}
	return nil
}

// setHealth sets the server's and the BadgeService's health.
func setHealth(hs *health.Server, serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	hs.SetServingStatus("", st)
	hs.SetServingStatus(adjoinv1.BadgeService_ServiceDesc.ServiceName, st)
}

// followNATS makes health follow the NATS connection until ctx ends: NOT_SERVING while it is
// down, since nothing read from the buckets is current then.
func followNATS(ctx context.Context, nc *nats.Conn, hs *health.Server, log *zap.Logger) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	serving := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if up := nc.IsConnected(); up != serving {
			serving = up
			setHealth(hs, up)
			log.Warn("health changed with the NATS connection", zap.Bool("serving", up))
		}
	}
}

// statusMetrics sets the status page's facts as metrics, from the same reads, and the size of
// the incident index, every 10s.
func statusMetrics(ctx context.Context, status *app.Status, incidents *app.Incidents, cfg Config) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		if st, err := status.Get(ctx); err == nil {
			cfg.Metrics.SetStatus(st)
		}
		held, entities := incidents.Len()
		cfg.Metrics.BadgeIncidents.WithLabelValues("incidents").Set(float64(held))
		cfg.Metrics.BadgeIncidents.WithLabelValues("entities").Set(float64(entities))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
