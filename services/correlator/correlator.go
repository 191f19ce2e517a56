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
	"github.com/adjoin/adjoin/pkg/heartbeat"
	"github.com/adjoin/adjoin/pkg/httpx"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/svcmain"
	"github.com/adjoin/adjoin/services/correlator/internal/adapters"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
	"github.com/adjoin/adjoin/services/correlator/internal/ports"
	"github.com/nats-io/nats.go/jetstream"
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
	// Window groups alerts into incidents and bounds how far an address claim or a logon
	// may be from an alert in time.
	Window time.Duration
	// Retention of logon facts in memory.
	LogonRetention time.Duration
	// MaxLogonFacts bounds the logon facts in memory (0: domain.DefaultMaxFacts).
	MaxLogonFacts int
	// RetryEvery is how often pending alerts are retried when the directory or logons changed.
	RetryEvery time.Duration
	// MaxIncidentAlerts bounds the alerts one incident follows.
	MaxIncidentAlerts int
	// Workers is how many alerts one instance handles at once.
	Workers int
	// MaxDeliveries is the delivery at which an alert whose handling still fails is
	// dead-lettered instead of retried.
	MaxDeliveries int
	// Metrics is shared when several services run in one process; nil makes a new one.
	Metrics *metrics.Metrics
}

// Flags defines the settings on s.
func (c *Config) Flags(s *config.Set) {
	c.NATS.Flags(s)
	s.String(&c.HTTPAddr, "http-addr", ":8083", "address of /healthz and /readyz")
	s.String(&c.Durable, "durable", "correlator", "durable consumer name shared by every correlator instance")
	s.Duration(&c.AckWait, "ack-wait", natsx.AckWait, "time before an unacknowledged alert is redelivered")
	s.Duration(&c.Window, "incident-window", 24*time.Hour, "alerts this close in time on linked entities form one incident; also bounds address and logon links")
	s.Duration(&c.LogonRetention, "logon-retention", 7*24*time.Hour, "how long logon and address facts are kept in memory")
	s.Int(&c.MaxLogonFacts, "max-logon-facts", domain.DefaultMaxFacts, "most logon and address facts kept in memory (about 200 B each); past it the oldest tenth is forgotten")
	s.Duration(&c.RetryEvery, "retry-every", 2*time.Second, "how often pending alerts are retried after the directory or logons changed")
	s.Int(&c.MaxIncidentAlerts, "max-incident-alerts", 500, "most alerts one incident follows")
	s.Int(&c.Workers, "workers", 8, "alerts one instance handles at once")
	s.Int(&c.MaxDeliveries, "max-deliveries", natsx.MaxDeliveries, "an alert (or an incident update) still failing at this delivery is dead-lettered (retries wait 1s, doubling up to 32s)")
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
	case c.Window <= 0:
		return fmt.Errorf("incident-window: %s, want > 0", c.Window)
	case c.MaxLogonFacts < 0:
		return fmt.Errorf("max-logon-facts: %d, want >= 1 (0: the default %d)", c.MaxLogonFacts, domain.DefaultMaxFacts)
	case c.LogonRetention < c.Window:
		return fmt.Errorf("logon-retention: %s, want at least incident-window (%s)", c.LogonRetention, c.Window)
	case c.RetryEvery <= 0:
		return fmt.Errorf("retry-every: %s, want > 0", c.RetryEvery)
	case c.Workers < 1:
		return fmt.Errorf("workers: %d, want >= 1", c.Workers)
	case c.MaxIncidentAlerts < 1:
		return fmt.Errorf("max-incident-alerts: %d, want >= 1", c.MaxIncidentAlerts)
	case c.MaxDeliveries < 1:
		return fmt.Errorf("max-deliveries: %d, want >= 1", c.MaxDeliveries)
	}
	return nil
}

// Run correlates until ctx ends, finishing the alert in hand first.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	log = log.With(zap.String("service", Name))
	cfg.NATS.Name = "adjoin-" + Name
	nc, js, err := natsx.Setup(ctx, cfg.NATS.ConnectOptions, cfg.NATS.Replicas, log)
	if err != nil {
		return err
	}
	defer nc.Drain() //nolint:errcheck // best effort at exit
	log, stopHeartbeat := heartbeat.Start(ctx, js, Name, svcmain.Version(), log)
	defer stopHeartbeat()

	kvs := map[string]jetstream.KeyValue{}
	for _, name := range []string{natsx.BucketBadges, natsx.BucketPending, natsx.BucketIncidents} {
		if kvs[name], err = js.KeyValue(ctx, name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	index, stopIndex, err := directory.Open(ctx, nc, js, log)
	if err != nil {
		return err
	}
	defer stopIndex()
	log.Info("directory loaded", zap.Int("entities", index.Len()))
	logons := domain.NewLogons(cfg.LogonRetention)
	logons.MaxFacts = cfg.MaxLogonFacts
	caughtUp, err := (&ports.LogonFeed{JS: js, Logons: logons, Log: log}).Start(ctx)
	if err != nil {
		return err
	}
	ports.WaitCaughtUp(ctx, caughtUp, 30*time.Second, log)

	badges := adapters.BadgeKV{KV: kvs[natsx.BucketBadges]}
	grouper := &domain.Grouper{Window: cfg.Window, MaxAlerts: cfg.MaxIncidentAlerts, Logons: logons,
		Source: adapters.GroupSource{Badges: badges, Index: index}}
	correlator := &app.Correlator{Index: index, Counter: badges, Out: adapters.Correlated{JS: js},
		Logons: logons, Window: cfg.Window, Grouper: grouper}
	pending := adapters.PendingKV{KV: kvs[natsx.BucketPending]}
	consumer := &ports.Consumer{JS: js, Durable: cfg.Durable, Log: log, AckWait: cfg.AckWait, Correlator: correlator,
		Pending: pending, Metrics: cfg.Metrics, Workers: cfg.Workers, MaxDeliveries: cfg.MaxDeliveries}
	retrier := &ports.Retrier{Pending: pending, Correlator: correlator, Every: cfg.RetryEvery, Log: log,
		Changed: func() uint64 { return index.Version()<<32 ^ uint64(logons.Added()) }}
	builder := &ports.IncidentBuilder{JS: js, Durable: cfg.Durable + "-incidents", Grouper: grouper, Log: log,
		Store: adapters.Incidents{KV: kvs[natsx.BucketIncidents], JS: js}, MaxDeliveries: cfg.MaxDeliveries}
	ln, err := httpx.Listen(cfg.Listener, cfg.HTTPAddr)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return httpx.Serve(gctx, ln, httpx.NewMux(natsx.Live(nc), natsx.Ready(nc, js, cfg.NATS.Replicas), cfg.Metrics.Handler()), 5*time.Second, log)
	})
	// A connection closed for good is never rebuilt: Run returns and the process exits.
	g.Go(func() error { return natsx.WatchClosed(gctx, nc) })
	g.Go(func() error { return consumer.Run(gctx) })
	g.Go(func() error { return retrier.Run(gctx) })
	g.Go(func() error { return builder.Run(gctx) })
	g.Go(func() error {
		cfg.Metrics.PollConsumers(gctx, js, Name, 5*time.Second, metrics.Consumer{Stream: natsx.StreamAlerts, Name: cfg.Durable},
			metrics.Consumer{Stream: natsx.StreamCorrelated, Name: builder.Durable})
		return nil
	})
	g.Go(func() error {
		pollBuckets(gctx, cfg.Metrics, kvs[natsx.BucketBadges], kvs[natsx.BucketPending])
		return nil
	})
	return g.Wait()
}

// pollBuckets sets the gauges of entities counted and alerts pending from the buckets' sizes.
func pollBuckets(ctx context.Context, m *metrics.Metrics, badges, pending jetstream.KeyValue) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		if st, err := badges.Status(ctx); err == nil {
			m.EntitiesCounted.Set(float64(st.Values()))
		}
		if st, err := pending.Status(ctx); err == nil {
			m.PendingAlerts.Set(float64(st.Values()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
