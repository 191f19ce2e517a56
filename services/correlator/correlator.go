// Package correlator turns the two alert streams into one view per on-prem AD entity in two
// stages: it resolves every alert's entity references against the directory and hands each
// (alert, entity) to the entity's COUNTS partition; the one owner of each partition keeps exact
// per-entity counts per side in adjoin_badges and publishes each alert joined to its entity on
// CORRELATED (correlated.user.<key>, correlated.computer.<key>; alerts that join nothing go to
// correlated.excluded or correlated.unresolved from stage 1).
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
	// Batch is how many alerts one instance fetches and handles at once.
	Batch int
	// Partitions is the number of COUNTS partitions; it is recorded in adjoin_config on the
	// first start and may not change afterwards.
	Partitions int
	// StateRetention is how long a partition owner keeps the full state of an alert resolved
	// and not updated, before compacting it to a tombstone (counts do not change).
	StateRetention time.Duration
	// TakeoverAfter is how long a partition's owner may go without pulling from its consumer
	// before another instance takes the partition over (the consumer's pinned TTL): how long a
	// partition waits after its owner dies (0: 30s).
	TakeoverAfter time.Duration
	// IncidentMemory is how long before the newest alert the incident builder remembers
	// alerts, and how far back in CORRELATED it replays when it starts or takes over.
	IncidentMemory time.Duration
	// IncidentMemoryAlerts bounds the alerts the incident builder remembers (0:
	// domain.DefaultMaxWindowAlerts).
	IncidentMemoryAlerts int
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
	s.Int(&c.Batch, "batch", ports.DefaultBatch, fmt.Sprintf("alerts one instance fetches and handles at once (at most %d)", ports.MaxBatch))
	s.Int(&c.Partitions, "partitions", natsx.DefaultPartitions, fmt.Sprintf("COUNTS partitions, each counted by one instance at a time (at most %d); fixed on the first start", MaxPartitions))
	s.Duration(&c.StateRetention, "state-retention", 180*24*time.Hour, "how long a partition owner keeps the full state of an alert resolved and not updated; then a 16-byte tombstone (counts never change)")
	s.Duration(&c.TakeoverAfter, "takeover-after", 30*time.Second, "a COUNTS partition whose owner has not pulled for this long is taken over by another instance (or the owner's next life): how long counting waits after an owner dies; at least 2s (an idle owner pulls every second)")
	s.Duration(&c.IncidentMemory, "incident-memory", domain.DefaultIncidentMemory, "the incident builder remembers alerts this long before the newest one, and replays this much of CORRELATED when it starts or takes over; at least incident-window")
	s.Int(&c.IncidentMemoryAlerts, "incident-memory-alerts", domain.DefaultMaxWindowAlerts, "most alerts the incident builder remembers (about 250 B each); past it the oldest are forgotten")
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
	case c.Batch < 1 || c.Batch > ports.MaxBatch:
		return fmt.Errorf("batch: %d, want 1 to %d", c.Batch, ports.MaxBatch)
	case c.Partitions < 1 || c.Partitions > MaxPartitions:
		return fmt.Errorf("partitions: %d, want 1 to %d", c.Partitions, MaxPartitions)
	case c.StateRetention <= 0:
		return fmt.Errorf("state-retention: %s, want > 0", c.StateRetention)
	case c.TakeoverAfter < 2*time.Second:
		return fmt.Errorf("takeover-after: %s, want at least 2s", c.TakeoverAfter)
	case c.IncidentMemory < c.Window:
		return fmt.Errorf("incident-memory: %s, want at least incident-window (%s)", c.IncidentMemory, c.Window)
	case c.IncidentMemoryAlerts < 1:
		return fmt.Errorf("incident-memory-alerts: %d, want >= 1", c.IncidentMemoryAlerts)
	case c.MaxIncidentAlerts < 1:
		return fmt.Errorf("max-incident-alerts: %d, want >= 1", c.MaxIncidentAlerts)
	case c.MaxDeliveries < 1:
		return fmt.Errorf("max-deliveries: %d, want >= 1", c.MaxDeliveries)
	}
	return nil
}

// Run correlates until ctx ends, finishing the batches in hand first.
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
	for _, name := range []string{natsx.BucketBadges, natsx.BucketPending, natsx.BucketIncidents, natsx.BucketConfig} {
		if kvs[name], err = js.KeyValue(ctx, name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	if err := recordPartitions(ctx, kvs[natsx.BucketConfig], cfg.Partitions); err != nil {
		return err
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

	// Stage 1 resolves alerts (every instance shares the ALERTS durable), stage 2 counts them
	// (one owner per COUNTS partition across all instances), then the incident builder groups
	// the correlated copies (one builder across all instances).
	correlator := &app.Correlator{Index: index, Out: adapters.Correlated{JS: js}, Partitions: cfg.Partitions,
		Logons: logons, Window: cfg.Window}
	pending := adapters.PendingKV{KV: kvs[natsx.BucketPending]}
	consumer := &ports.Consumer{JS: js, Durable: cfg.Durable, Log: log, AckWait: cfg.AckWait, Correlator: correlator,
		Pending: pending, Metrics: cfg.Metrics, Batch: cfg.Batch, MaxDeliveries: cfg.MaxDeliveries}
	retrier := &ports.Retrier{Pending: pending, Correlator: correlator, Every: cfg.RetryEvery, Log: log,
		Changed: func() uint64 { return index.Version()<<32 ^ uint64(logons.Added()) }}
	counter := &ports.Counter{JS: js, Durable: cfg.Durable, Partitions: cfg.Partitions, Log: log, Metrics: cfg.Metrics,
		MaxDeliveries: cfg.MaxDeliveries, StateRetention: cfg.StateRetention, AckWait: cfg.AckWait, PinnedTTL: cfg.TakeoverAfter}
	window := domain.NewAlertWindow(cfg.IncidentMemory)
	window.MaxAlerts = cfg.IncidentMemoryAlerts
	grouper := &domain.Grouper{Window: cfg.Window, MaxAlerts: cfg.MaxIncidentAlerts, Logons: logons,
		Source: adapters.GroupSource{Index: index}, Alerts: window}
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
	g.Go(func() error { return counter.Run(gctx) })
	g.Go(func() error { return builder.Run(gctx) })
	g.Go(func() error {
		cfg.Metrics.PollConsumers(gctx, js, Name, 5*time.Second, polled(cfg, builder.Durable)...)
		return nil
	})
	g.Go(func() error {
		pollBuckets(gctx, cfg.Metrics, kvs[natsx.BucketBadges], kvs[natsx.BucketPending])
		return nil
	})
	return g.Wait()
}

// polled lists the consumers whose lag the metrics follow: ALERTS, each COUNTS partition,
// and the incident builder's.
func polled(cfg Config, builder string) []metrics.Consumer {
	cs := []metrics.Consumer{{Stream: natsx.StreamAlerts, Name: cfg.Durable}}
	for p := range cfg.Partitions {
		cs = append(cs, metrics.Consumer{Stream: natsx.StreamCounts, Name: ports.CounterDurable(cfg.Durable, p)})
	}
	return append(cs, metrics.Consumer{Stream: natsx.StreamCorrelated, Name: builder})
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
