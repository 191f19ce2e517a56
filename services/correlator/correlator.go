// Package correlator turns the two alert streams into one view per on-prem AD entity: it
// resolves every alert's entity references against the directory, keeps exact per-entity
// counts per side in adjoin_badges, and publishes each alert joined to its entities on
// CORRELATED (correlated.user.<key>, correlated.computer.<key>, or excluded / unresolved).
package correlator

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/httpx"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/adapters"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
	"github.com/adjoin/adjoin/services/correlator/internal/ports"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// Name is the service name used in logs and NATS client names.
const Name = "correlator"

// Config is every setting of the correlator.
type Config struct {
	NATS     natsx.Settings
	HTTPAddr string
	// Listener, when set, is used instead of listening on HTTPAddr.
	Listener net.Listener
	Durable  string
	AckWait  time.Duration
}

// Flags defines the settings on s.
func (c *Config) Flags(s *config.Set) {
	c.NATS.Flags(s)
	s.String(&c.HTTPAddr, "http-addr", ":8083", "address of /healthz and /readyz")
	s.String(&c.Durable, "durable", "correlator", "durable consumer name shared by every correlator instance")
	s.Duration(&c.AckWait, "ack-wait", 30*time.Second, "time before an unacknowledged alert is redelivered")
}

// Validate reports the first bad setting by name.
func (c Config) Validate() error {
	if err := c.NATS.Validate(); err != nil {
		return err
	}
	switch {
	case c.Listener == nil && c.HTTPAddr == "":
		return fmt.Errorf("http-addr: required")
	case c.Durable == "":
		return fmt.Errorf("durable: required")
	case c.AckWait < time.Second:
		return fmt.Errorf("ack-wait: %s, want at least 1s", c.AckWait)
	}
	return nil
}

// Run correlates until ctx ends, finishing the alert in hand first.
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

	dirKV, err := js.KeyValue(ctx, natsx.BucketDirectory)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", natsx.BucketDirectory, err)
	}
	badgeKV, err := js.KeyValue(ctx, natsx.BucketBadges)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", natsx.BucketBadges, err)
	}
	index := directory.NewIndex()
	if err := index.Follow(ctx, dirKV, log); err != nil {
		return err
	}
	log.Info("directory loaded", zap.Int("entities", index.Len()))
	consumer := &ports.Consumer{
		JS: js, Durable: cfg.Durable, Log: log, AckWait: cfg.AckWait,
		Correlator: &app.Correlator{Index: index, Counter: adapters.BadgeKV{KV: badgeKV}, Out: adapters.Correlated{JS: js}},
	}
	ln, err := httpx.Listen(cfg.Listener, cfg.HTTPAddr)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return httpx.Serve(gctx, ln, httpx.NewMux(natsx.Ready(nc, js, cfg.NATS.Replicas)), 5*time.Second, log)
	})
	g.Go(func() error { return consumer.Run(gctx) })
	return g.Wait()
}
