// Package badge is the badge service: it answers other services over gRPC with per-entity
// badges (alert counts per side, greyed when a side does not know the entity), from the
// directory, the correlator's counts and the endpoint side's device knowledge.
package badge

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
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

// Config is every setting of the badge service.
type Config struct {
	NATS     natsx.Settings
	GRPCAddr string
	// Listener, when set, is used instead of listening on GRPCAddr.
	Listener      net.Listener
	ShutdownGrace time.Duration
}

// Flags defines the settings on s.
func (c *Config) Flags(s *config.Set) {
	c.NATS.Flags(s)
	s.String(&c.GRPCAddr, "grpc-addr", ":9090", "address of the gRPC BadgeService, health and reflection")
	s.Duration(&c.ShutdownGrace, "shutdown-grace", 10*time.Second, "time allowed for RPCs in flight at shutdown")
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
	}
	return nil
}

// Run serves gRPC until ctx ends, then reports NOT_SERVING, stops gracefully (bounded by
// ShutdownGrace) and drains NATS.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log = log.With(zap.String("service", Name))
	cfg.NATS.Name = "adjoin-" + Name
	nc, js, err := natsx.Setup(ctx, cfg.NATS.ConnectOptions, cfg.NATS.Replicas, log)
	if err != nil {
		return err
	}
	defer nc.Drain() //nolint:errcheck // best effort at exit

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
	index := directory.NewIndex()
	if err := index.Follow(ctx, dirKV, log); err != nil {
		return err
	}

	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
			return fmt.Errorf("grpc-addr %s: %w", cfg.GRPCAddr, err)
		}
	}
	srv := grpc.NewServer()
	adjoinv1.RegisterBadgeServiceServer(srv, &ports.GRPCServer{Badges: &app.Badges{Index: index, Store: store}, Log: log})
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(adjoinv1.BadgeService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("grpc listening", zap.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return fmt.Errorf("grpc serve: %w", err)
	case <-ctx.Done():
	}
	hs.Shutdown()
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(cfg.ShutdownGrace):
		srv.Stop()
	}
	return nil
}
