// Package badge is the badge service: it answers other services over gRPC with per-entity
// badges (alert counts per side, greyed when a side does not know the entity), entity
// timelines, the incidents each entity belongs to, the resumable correlated stream, and the integration status and toggles. Requests
// are served from an in-memory view kept current by watching the KV buckets.
package badge

import (
	"context"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/service"
	"github.com/adjoin/adjoin/services/badge/internal/app"
	"github.com/adjoin/adjoin/services/badge/internal/console"
	"github.com/adjoin/adjoin/services/badge/internal/ports"
)

// Name is the service name used in logs and NATS client names.
const Name = "badge"

// Defaults of the stream limits: enough for a portal or a SIEM connector per client, and a
// bound on what all clients together may hold.
const (
	DefaultMaxStreamsPerClient = 16
	DefaultMaxStreams          = 1000
	// DefaultMaxWatchesOfAll bounds the watches of every entity (see ports).
	DefaultMaxWatchesOfAll = ports.DefaultMaxWatchesOfAll
)

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
	// MaxWatchesOfAll bounds the watches without selectors (of every entity) open at once.
	MaxWatchesOfAll int
	// DefaultDeadline is given to unary calls that come without one, except those answered
	// from memory (GetBadge, BatchGetBadges), which never wait.
	DefaultDeadline time.Duration
	// HTTPAddr serves /metrics, /healthz and /readyz; empty (and no HTTPListener) serves none.
	HTTPAddr     string
	HTTPListener net.Listener
	// Metrics is shared when several services run in one process; nil makes a new one.
	Metrics *metrics.Metrics
	// Console serves the web console under /console/ on the HTTP side port (see
	// internal/console): the same callers as gRPC, read sees, admin toggles.
	Console bool
	// ConsoleMaxLive bounds the console pages updating live (server-sent event streams) at once.
	ConsoleMaxLive int
	// BadgeCache is how many GetBadge answers are kept built (the entities asked about most
	// recently).
	BadgeCache int
	// MaxIncidents bounds the incidents kept in memory for ListEntityIncidents (the most
	// recent by last activity; each entity lists at most app.IncidentsPerEntity).
	MaxIncidents int
	// Loaded, when set, is called once the view has loaded, before the service answers.
	Loaded func()
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
	s.Int(&c.MaxWatchesOfAll, "max-watches-of-all", DefaultMaxWatchesOfAll, "most watches of every entity (WatchBadges without selectors) open at once over all clients; each holds a hash per directory entity and sends the whole directory when it starts")
	s.Duration(&c.DefaultDeadline, "default-deadline", 10*time.Second, "deadline given to unary calls that come without one (not GetBadge and BatchGetBadges: answered from memory, nothing in them waits)")
	s.String(&c.HTTPAddr, "http-addr", ":9091", "address of /metrics, /healthz, /readyz and, with --console, the web console (empty: none)")
	s.Bool(&c.Console, "console", false, "serve the web console under /console/ on http-addr, admitting the callers gRPC admits (tokens-file, client certificates with admin-cns); with tls-cert, http-addr then serves HTTPS")
	s.Int(&c.ConsoleMaxLive, "console-max-live", console.DefaultMaxLive, "most console pages updating live at once (one server-sent event stream each); more are served without updates")
	s.Int(&c.BadgeCache, "badge-cache", app.DefaultAnswers, "most badge answers kept built, for the entities asked about most recently (about 1 KB each; in all at most 2 KiB encoded per answer allowed, at least 1 MiB)")
	s.Int(&c.MaxIncidents, "max-incidents", app.DefaultMaxIncidents, "most incidents kept in memory for ListEntityIncidents and the console, the most recent by last activity (each entity lists its 20 most recent)")
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
	case c.MaxWatchesOfAll < 1:
		return fmt.Errorf("max-watches-of-all: %d, want >= 1", c.MaxWatchesOfAll)
	case c.DefaultDeadline < 0:
		return fmt.Errorf("default-deadline: %s, want >= 0", c.DefaultDeadline)
	case c.ConsoleMaxLive < 1:
		return fmt.Errorf("console-max-live: %d, want >= 1", c.ConsoleMaxLive)
	case c.BadgeCache < 1:
		return fmt.Errorf("badge-cache: %d, want >= 1", c.BadgeCache)
	case c.MaxIncidents < 1:
		return fmt.Errorf("max-incidents: %d, want >= 1", c.MaxIncidents)
	}
	if err := c.Security.Validate(); err != nil {
		return err
	}
	if c.Console && c.HTTPListener == nil {
		if c.HTTPAddr == "" {
			return fmt.Errorf("console: needs http-addr")
		}
		// The console shows entity data and toggles the integration: the rule of the gRPC port.
		if err := c.Security.settings().CheckListen("http-addr", c.HTTPAddr); err != nil {
			return err
		}
	}
	if c.Listener != nil { // opened by the embedder (tests, adjoin dev), who chose its address
		return nil
	}
	return c.Security.settings().CheckListen("grpc-addr", c.GRPCAddr)
}

// Run serves gRPC until ctx ends, then reports NOT_SERVING, stops gracefully (bounded by
// ShutdownGrace) and drains NATS. Health is NOT_SERVING while NATS is unreachable.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	return service.Run(ctx, service.Options{Name: Name, Config: cfg, NATS: cfg.NATS, Metrics: cfg.Metrics}, log,
		func(ctx context.Context, rt *service.Runtime) error {
			cfg.Metrics = rt.Metrics // the one made when cfg had none
			return start(ctx, rt, cfg)
		})
}
