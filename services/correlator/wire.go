package correlator

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/httpx"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/service"
	"github.com/adjoin/adjoin/services/correlator/internal/adapters"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
	"github.com/adjoin/adjoin/services/correlator/internal/ports"
)

// openBuckets opens the KV buckets the correlator reads and writes, by name.
func openBuckets(ctx context.Context, js jetstream.JetStream) (map[string]jetstream.KeyValue, error) {
	kvs := map[string]jetstream.KeyValue{}
	for _, name := range []string{natsx.BucketBadges, natsx.BucketPending, natsx.BucketIncidents, natsx.BucketConfig} {
		kv, err := js.KeyValue(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", name, err)
		}
		kvs[name] = kv
	}
	return kvs, nil
}

// start wires the correlator on rt: the partitions checked against adjoin_config, the
// directory and the logon facts loaded, the health side, the two stages, the incident builder
// and the metrics pollers.
func start(ctx context.Context, rt *service.Runtime, cfg Config) error {
	kvs, err := openBuckets(ctx, rt.JS)
	if err != nil {
		return err
	}
	if err := recordPartitions(ctx, kvs[natsx.BucketConfig], cfg.Partitions); err != nil {
		return err
	}
	// The logon facts are read while the directory loads: both must be in before ready, and
	// the directory takes one core for most of the start.
	logons, caughtUp, err := startLogons(ctx, rt, cfg)
	if err != nil {
		return err
	}
	index, err := openDirectory(ctx, rt)
	if err != nil {
		return err
	}
	if cfg.Loaded != nil {
		cfg.Loaded()
	}
	ports.WaitCaughtUp(ctx, caughtUp, 30*time.Second, rt.Log)
	ln, err := httpx.Listen(cfg.Listener, cfg.HTTPAddr)
	if err != nil {
		return err
	}
	rt.Serve(ln, rt.HealthMux(), 5*time.Second)
	builder := startStages(rt, cfg, kvs, index, logons)
	rt.Go(func(ctx context.Context) error {
		cfg.Metrics.PollConsumers(ctx, rt.JS, Name, 5*time.Second, polled(cfg, builder.Durable)...)
		return nil
	})
	rt.Go(func(ctx context.Context) error {
		pollBuckets(ctx, cfg.Metrics, kvs[natsx.BucketBadges], kvs[natsx.BucketPending])
		return nil
	})
	return keepDirectorySnapshot(ctx, rt, cfg, index)
}

// keepDirectorySnapshot starts the directory snapshot's keeper (one instance writes at a time).
func keepDirectorySnapshot(ctx context.Context, rt *service.Runtime, cfg Config, index *directory.Index) error {
	if cfg.DirectorySnapshotEvery == 0 || index.Snapshots == nil {
		return nil
	}
	dir, err := rt.JS.KeyValue(ctx, natsx.BucketDirectory)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", natsx.BucketDirectory, err)
	}
	status, err := rt.JS.KeyValue(ctx, natsx.BucketStatus)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", natsx.BucketStatus, err)
	}
	host, _ := os.Hostname()
	keeper := &directory.SnapshotKeeper{Bucket: dir, Store: index.Snapshots, Claims: status, Claim: "snapshot.directory",
		Holder: fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano()), Log: rt.Log.Named("directory-snapshot"),
		Every: cfg.DirectorySnapshotEvery, MinEntries: 10_000, Changes: 100_000, MaxAge: time.Hour}
	rt.Go(func(ctx context.Context) error { keeper.Run(ctx); return nil })
	return nil
}

// openDirectory loads the directory and keeps it current until rt stops.
func openDirectory(ctx context.Context, rt *service.Runtime) (*directory.Index, error) {
	index, stopIndex, err := directory.Open(ctx, rt.NC, rt.JS, rt.Log)
	if err != nil {
		return nil, err
	}
	rt.OnStop(stopIndex)
	rt.Log.Info("directory loaded", zap.Int("entities", index.Len()))
	return index, nil
}

// startLogons follows the logon and address facts. The caller waits a bounded time on
// caughtUp (ports.WaitCaughtUp) so that the first alerts are not resolved against a
// half-loaded table.
func startLogons(ctx context.Context, rt *service.Runtime, cfg Config) (_ *domain.Logons, caughtUp <-chan struct{}, _ error) {
	logons := domain.NewLogons(cfg.LogonRetention)
	logons.MaxFacts = cfg.MaxLogonFacts
	caughtUp, err := (&ports.LogonFeed{JS: rt.JS, Logons: logons, Log: rt.Log}).Start(ctx)
	if err != nil {
		return nil, nil, err
	}
	return logons, caughtUp, nil
}

// builderStartDelay is how long the incident builder's first replay of CORRELATED waits when
// no alert comes to group sooner. At 1M users after 100,000 alerts it read 115,976 messages in
// 3.9 s of a core, while adjoin-badge, started beside it, loaded the directory: the badge's
// snapshot read took 6.8 s against 4.2 s alone. Ready comes first; incidents of a quiet start
// are no less right for waiting.
const builderStartDelay = 10 * time.Second

// startStages starts stage 1, which resolves alerts (every instance shares the ALERTS
// durable), and its retrier; stage 2, which counts them (one owner per COUNTS partition across
// all instances); and the incident builder, which groups the correlated copies (one builder
// across all instances). Each is a worker of rt: the shutdown waits for what it holds.
func startStages(rt *service.Runtime, cfg Config, kvs map[string]jetstream.KeyValue, index *directory.Index, logons *domain.Logons) *ports.IncidentBuilder {
	correlator := &app.Correlator{Index: index, Out: adapters.Correlated{JS: rt.JS}, Partitions: cfg.Partitions,
		Logons: logons, Window: cfg.Window}
	pending := adapters.PendingKV{KV: kvs[natsx.BucketPending]}
	consumer := &ports.Consumer{JS: rt.JS, Durable: cfg.Durable, Log: rt.Log, AckWait: cfg.AckWait, Correlator: correlator,
		Pending: pending, Metrics: cfg.Metrics, Batch: cfg.Batch, MaxDeliveries: cfg.MaxDeliveries}
	retrier := &ports.Retrier{Pending: pending, Correlator: correlator, Every: cfg.RetryEvery, Log: rt.Log,
		Changed: func() uint64 { return index.Version()<<32 ^ uint64(logons.Added()) }}
	counter := &ports.Counter{JS: rt.JS, Durable: cfg.Durable, Partitions: cfg.Partitions, Log: rt.Log, Metrics: cfg.Metrics,
		MaxDeliveries: cfg.MaxDeliveries, StateRetention: cfg.StateRetention, MaxHeld: cfg.MaxHeld, AckWait: cfg.AckWait, PinnedTTL: cfg.TakeoverAfter}
	window := domain.NewAlertWindow(cfg.IncidentMemory)
	window.MaxAlerts = cfg.IncidentMemoryAlerts
	grouper := &domain.Grouper{Window: cfg.Window, MaxAlerts: cfg.MaxIncidentAlerts, Logons: logons,
		Source: adapters.GroupSource{Index: index}, Alerts: window}
	// The builder's AckWait stays natsx.AckWait: --ack-wait is the alerts' and the counts'.
	builder := &ports.IncidentBuilder{JS: rt.JS, Durable: cfg.Durable + "-incidents", Grouper: grouper, Log: rt.Log,
		Store: adapters.Incidents{KV: kvs[natsx.BucketIncidents], JS: rt.JS}, MaxDeliveries: cfg.MaxDeliveries, Metrics: cfg.Metrics,
		StartDelay: builderStartDelay}
	rt.Go(consumer.Run)
	rt.Go(retrier.Run)
	rt.Go(counter.Run)
	rt.Go(builder.Run)
	return builder
}
