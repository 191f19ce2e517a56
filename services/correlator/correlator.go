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

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/counts"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/service"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
	"github.com/adjoin/adjoin/services/correlator/internal/ports"
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
	// StateRetention is how long a partition owner keeps the full state of an alert not
	// updated, before compacting it to a tombstone (counts do not change); the tombstone of a
	// resolved alert is forgotten after as long again.
	StateRetention time.Duration
	// MaxHeld bounds the alerts one partition owner holds state for (in full or as tombstones).
	MaxHeld int
	// TakeoverAfter is how long a partition's owner may go without pulling from its consumer
	// before another instance takes the partition over (the consumer's pinned TTL): how long a
	// partition waits after its owner dies.
	TakeoverAfter time.Duration
	// IncidentMemory is how long before the newest alert the incident builder remembers
	// alerts, and how far back in CORRELATED it replays when it starts or takes over.
	IncidentMemory time.Duration
	// IncidentMemoryAlerts bounds the alerts the incident builder remembers.
	IncidentMemoryAlerts int
	// MaxDeliveries is the delivery at which an alert whose handling still fails is
	// dead-lettered instead of retried.
	MaxDeliveries int
	// DirectorySnapshotEvery is how often the directory snapshot is checked and, when due and
	// this instance holds the writer's claim, rewritten (0: never).
	DirectorySnapshotEvery time.Duration
	// Metrics is shared when several services run in one process; nil makes a new one.
	Metrics *metrics.Metrics
	// Loaded, when set, is called once the directory has loaded, before the service is ready.
	Loaded func()
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
	s.Duration(&c.StateRetention, "state-retention", ports.DefaultStateRetention, "how long a partition owner keeps the full state of an alert not updated; then a 16-byte tombstone (counts never change), forgotten after as long again once the alert is resolved (a version arriving later counts anew)")
	s.Int(&c.MaxHeld, "max-held", counts.DefaultMaxHeld, "most alerts one partition owner holds state for (at most some 140 B each in full, 70 B as a tombstone); past it a new alert is counted without its state, so a later version of it may count again (logged, and counted in adjoin_counter_alerts_unheld_total)")
	s.Duration(&c.TakeoverAfter, "takeover-after", ports.DefaultPinnedTTL, "a COUNTS partition whose owner has not pulled for this long is taken over by another instance (or the owner's next life): how long counting waits after an owner dies; at least 2s (an idle owner pulls every second)")
	s.Duration(&c.IncidentMemory, "incident-memory", domain.DefaultIncidentMemory, "the incident builder remembers alerts this long before the newest one, and replays this much of CORRELATED when it starts or takes over; at least incident-window")
	s.Int(&c.IncidentMemoryAlerts, "incident-memory-alerts", domain.DefaultMaxWindowAlerts, "most alerts the incident builder remembers (about 250 B each); past it the oldest are forgotten")
	s.Duration(&c.DirectorySnapshotEvery, "directory-snapshot-every", time.Minute, "how often the directory snapshot (adjoin_directory_snapshot, read by every service at start) is checked; one instance rewrites it when it is missing, 100,000 changes behind, or behind and an hour old (0: never; directories under 10,000 entities get none)")
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
	case c.MaxHeld < 1:
		return fmt.Errorf("max-held: %d, want >= 1", c.MaxHeld)
	case c.DirectorySnapshotEvery < 0:
		return fmt.Errorf("directory-snapshot-every: %s, want >= 0", c.DirectorySnapshotEvery)
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

// Run correlates until ctx ends. At shutdown the runtime waits for the batches in hand, for
// each partition owner's clean stop (a snapshot, then its pin released) and for the incident
// builder, then drains the NATS connection and waits until it is closed.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	return service.Run(ctx, service.Options{Name: Name, Config: cfg, NATS: cfg.NATS, Metrics: cfg.Metrics}, log,
		func(ctx context.Context, rt *service.Runtime) error {
			cfg.Metrics = rt.Metrics // the one made when cfg had none
			return start(ctx, rt, cfg)
		})
}
