package adjoin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/adjoin/adjoin/pkg/authn"
	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/svcmain"
	"github.com/adjoin/adjoin/services/adjoin/demo"
	"github.com/adjoin/adjoin/services/badge"
	"github.com/adjoin/adjoin/services/correlator"
	"github.com/adjoin/adjoin/services/dcingest"
	"github.com/adjoin/adjoin/services/endpointingest"
)

// DevConfig is the setting of `adjoin dev`.
type DevConfig struct {
	Dir            string
	Host           string
	NATSPort       int
	DCPort         int
	EndpointPort   int
	CorrelatorPort int
	GRPCPort       int
	BadgeHTTPPort  int
	LDIFFile       string
	LogLevel       string
	// NetBIOSDomain, LDAP and Samba connect the DC ingestor to a real domain controller: the
	// directory synced over LDAP (instead of the demo directory) and a Samba DC's audit log.
	NetBIOSDomain string
	LDAP          dcingest.LDAPSettings
	Samba         dcingest.SambaConfig
	// DCIngest, when set, adjusts the DC ingestor's settings before it starts (an LDAP
	// directory or a Samba audit log instead of the demo directory, in tests and embedders).
	DCIngest func(*dcingest.Config)
}

func (c *DevConfig) flags(s *config.Set) {
	s.String(&c.Dir, "dir", ".adjoin/dev", "directory for the embedded JetStream data (kept across runs, locked while in use)")
	s.Env("dir", "ADJOIN_DEV_DIR") // not ADJOIN_DIR: adjoin secrets has a --dir too
	s.String(&c.Host, "host", "127.0.0.1", "address every listener binds to")
	s.Int(&c.NATSPort, "nats-port", 4222, "embedded NATS client port")
	s.Int(&c.DCPort, "dc-port", 8081, "DC ingestor HTTP port")
	s.Int(&c.EndpointPort, "endpoint-port", 8082, "endpoint ingestor HTTP port")
	s.Int(&c.CorrelatorPort, "correlator-port", 8083, "correlator health port")
	s.Int(&c.GRPCPort, "grpc-port", 9090, "badge service gRPC port")
	s.Int(&c.BadgeHTTPPort, "badge-http-port", 9091, "badge service /metrics, health and web console (/console/) port")
	s.String(&c.LDIFFile, "directory-ldif", "", "LDIF directory to load instead of the built-in theshire.local demo")
	s.String(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	s.String(&c.NetBIOSDomain, "netbios-domain", "", "NetBIOS domain name of a real directory (default: first DC= label of each DN, upper-cased)")
	c.LDAP.Flags(s)
	c.Samba.Flags(s)
}

// validate names the first bad setting before anything starts.
func (c DevConfig) validate() error {
	if err := c.LDAP.Validate(); err != nil {
		return err
	}
	return c.Samba.Validate()
}

// DevStack is a running `adjoin dev`: its addresses, and Wait to block until it stops.
type DevStack struct {
	NATSURL, DCURL, EndpointURL, CorrelatorURL, GRPCAddr, BadgeURL, Dir string
	wait                                                                func() error
}

// Wait blocks until every service stopped and the embedded server shut down.
func (d *DevStack) Wait() error { return d.wait() }

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg DevConfig
	s := commandSet("dev")
	cfg.flags(s)
	if err := s.Parse(args, stdout); err != nil {
		if err == config.ErrHelp {
			return nil
		}
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	log, err := logx.New(cfg.LogLevel, "console")
	if err != nil {
		return err
	}
	stack, err := StartDev(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `adjoin dev is running (Ctrl-C to stop)
  JetStream data     %s
  NATS               %s
  DC ingestor        %s/v1/events   (POST NDJSON Windows Security events)
  endpoint ingestor  %s/v1/events   (POST NDJSON Sysmon events)
  correlator health  %s/readyz
  badge gRPC         %s   (metrics and health: %s/metrics)
  web console        %s/console/
Try:
  curl --data-binary @covenant_dcsync_....json %s/v1/events
  adjoin badge get --badge-addr %s 'THESHIRE\pgustavo'
`, stack.Dir, stack.NATSURL, stack.DCURL, stack.EndpointURL, stack.CorrelatorURL, stack.GRPCAddr, stack.BadgeURL, stack.BadgeURL, stack.DCURL, stack.GRPCAddr)
	// Ctrl-C while the services still start ends their start with the context's error: that
	// is a stop asked for, not a failure.
	if err := stack.Wait(); err != nil && (ctx.Err() == nil || !errors.Is(err, context.Canceled)) {
		return err
	}
	log.Info(svcmain.StoppedCleanly, zap.String("service", "adjoin dev"), zap.String("dir", stack.Dir))
	return nil
}

// StartDev starts the embedded JetStream server and the four services, and returns once every
// listener is open. The services stop when ctx ends; Wait returns after that.
func StartDev(ctx context.Context, cfg DevConfig, log *zap.Logger) (*DevStack, error) {
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	unlock, err := lockDevDir(dir)
	if err != nil {
		return nil, err
	}
	if err := checkPortFree("nats-port", cfg.Host, cfg.NATSPort); err != nil {
		unlock()
		return nil, err
	}
	srv, err := natsx.StartEmbedded(natsx.EmbeddedOptions{StoreDir: dir, Host: cfg.Host, Port: cfg.NATSPort, SyncAlways: true})
	if err != nil {
		unlock()
		return nil, fmt.Errorf("nats-port %d: %w", cfg.NATSPort, err)
	}
	stopServer := func() { srv.Shutdown(); srv.WaitForShutdown(); unlock() }
	natsURL := srv.ClientURL()
	if err := provision(ctx, natsURL, log); err != nil {
		stopServer()
		return nil, err
	}
	var lns [5]net.Listener
	for i, p := range []struct {
		name string
		port int
	}{{"dc-port", cfg.DCPort}, {"endpoint-port", cfg.EndpointPort}, {"correlator-port", cfg.CorrelatorPort},
		{"grpc-port", cfg.GRPCPort}, {"badge-http-port", cfg.BadgeHTTPPort}} {
		if lns[i], err = net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(p.port))); err != nil {
			for _, l := range lns[:i] {
				l.Close()
			}
			stopServer()
			return nil, portError(p.name, cfg.Host, p.port, err)
		}
	}
	svc := devServices(cfg, natsURL, lns, metrics.New())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return dcingest.Run(gctx, svc.dc, log) })
	g.Go(func() error { return endpointingest.Run(gctx, svc.ep, log) })
	g.Go(func() error { return correlator.Run(gctx, svc.co, log) })
	g.Go(func() error { return badge.Run(gctx, svc.bd, log) })
	httpURL := func(l net.Listener) string { return "http://" + l.Addr().String() }
	return &DevStack{
		NATSURL: natsURL, DCURL: httpURL(lns[0]), EndpointURL: httpURL(lns[1]), CorrelatorURL: httpURL(lns[2]),
		GRPCAddr: lns[3].Addr().String(), BadgeURL: httpURL(lns[4]), Dir: dir,
		wait: func() error {
			err := g.Wait()
			stopServer()
			return err
		},
	}, nil
}

// devConfigs are the settings of the four services of `adjoin dev`.
type devConfigs struct {
	dc dcingest.Config
	ep endpointingest.Config
	co correlator.Config
	bd badge.Config
}

// devServices composes each service from its DefaultConfig and changes only what one process
// on one host must: the embedded server's URL, the listeners opened by StartDev, one metrics
// registry, and no authentication. TestDevConfigsAreDefaults fails on any other difference.
func devServices(cfg DevConfig, natsURL string, lns [5]net.Listener, m *metrics.Metrics) devConfigs {
	// adjoin dev is the easy local setup: no certificates or tokens, said explicitly (its
	// listeners are on --host, loopback unless the developer chose otherwise).
	open := authn.Settings{Insecure: true}

	dc := dcingest.DefaultConfig()
	dc.NATS.URL = natsURL     // the embedded server
	dc.HTTP.Listener = lns[0] // --dc-port on --host
	dc.HTTP.Auth = open       // no certificates or sender tokens
	dc.Metrics = m            // one registry: every service's /metrics shows the whole process
	// adjoin dev's own flags: a real directory (LDIF or LDAP) and a Samba DC's audit log.
	dc.LDIFFile, dc.NetBIOSDomain, dc.LDAP, dc.Samba = cfg.LDIFFile, cfg.NetBIOSDomain, cfg.LDAP, cfg.Samba
	if cfg.LDIFFile == "" && cfg.LDAP.URL == "" {
		dc.LDIFData = demo.TheShireLDIF // a real directory, synced over LDAP, replaces the demo
	}
	if cfg.DCIngest != nil {
		cfg.DCIngest(&dc)
	}

	ep := endpointingest.DefaultConfig()
	ep.NATS.URL = natsURL     // the embedded server
	ep.HTTP.Listener = lns[1] // --endpoint-port on --host
	ep.HTTP.Auth = open       // no certificates or sender tokens
	ep.Metrics = m            // the shared registry

	co := correlator.DefaultConfig()
	co.NATS.URL = natsURL // the embedded server
	co.Listener = lns[2]  // --correlator-port on --host
	co.Metrics = m        // the shared registry

	bd := badge.DefaultConfig()
	bd.NATS.URL = natsURL                                 // the embedded server
	bd.Listener, bd.HTTPListener = lns[3], lns[4]         // --grpc-port and --badge-http-port on --host
	bd.Security = badge.Security{Insecure: open.Insecure} // no tokens or certificates
	bd.Console = true                                     // the web console, on --badge-http-port
	bd.Metrics = m                                        // the shared registry
	return devConfigs{dc: dc, ep: ep, co: co, bd: bd}
}

// provision creates the topology once, before four services race to do it.
func provision(ctx context.Context, url string, log *zap.Logger) error {
	nc, err := natsx.Connect(ctx, natsx.ConnectOptions{URL: url, Name: "adjoin-dev"}, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	return natsx.Provision(ctx, js, natsx.NewTopology(1))
}
