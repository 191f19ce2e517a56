package intake

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/adjoin/adjoin/pkg/authn"
	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/httpx"
	"github.com/adjoin/adjoin/pkg/ingest/syslog"
	"github.com/adjoin/adjoin/pkg/ingest/tail"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// ServiceConfig is the HTTP side of an ingestor.
type ServiceConfig struct {
	HTTPAddr string
	// Listener, when set, is used instead of listening on HTTPAddr.
	Listener      net.Listener
	ShutdownGrace time.Duration
	// Tail lists file patterns (globs) to follow; their offsets persist in adjoin_status.
	Tail     string
	TailPoll time.Duration
	// Syslog intake (RFC 5424/3164 carrying CEF or JSON); empty addresses turn it off.
	SyslogTCPAddr, SyslogUDPAddr string
	SyslogMaxMessage             int
	// MaxDeliveries is the delivery at which the detection consumer gives up an event whose
	// handling (device knowledge) still fails, and dead-letters it.
	MaxDeliveries int
	// Auth is the HTTP intake's TLS, client certificates and sender tokens; see Validate for
	// the rule on non-loopback addresses.
	Auth authn.Settings
	// MaxClockSkew is how far ahead of the receive time an event or product alert may be
	// dated; later ones are refused ("time-in-future").
	MaxClockSkew time.Duration
	// MaxLines bounds the lines of one POST /v1/events body.
	MaxLines int
}

// Flags defines the HTTP settings on s with the service's default address.
func (c *ServiceConfig) Flags(s *config.Set, defaultAddr string) {
	s.String(&c.HTTPAddr, "http-addr", defaultAddr, "address of the HTTP intake (POST /v1/events), /healthz and /readyz")
	s.Duration(&c.ShutdownGrace, "shutdown-grace", 15*time.Second, "time allowed for requests in flight at shutdown")
	s.String(&c.Tail, "tail", "", "comma-separated file patterns to follow (NDJSON event logs), e.g. /var/log/dc/*.json")
	s.Duration(&c.TailPoll, "tail-poll", time.Second, "how often followed files are checked for new lines")
	s.String(&c.SyslogTCPAddr, "syslog-tcp-addr", "", "syslog over TCP (RFC 5424/3164, octet-counted or newline framing) carrying CEF or JSON; empty: off")
	s.String(&c.SyslogUDPAddr, "syslog-udp-addr", "", "syslog over UDP, best effort (UDP has no acknowledgement); empty: off")
	s.Int(&c.SyslogMaxMessage, "syslog-max-message", syslog.DefaultMaxMessage, "largest syslog message in bytes; longer ones are dead-lettered")
	s.Int(&c.MaxLines, "max-lines", defaultMaxLines, "most lines in one POST /v1/events body, blank ones included; past it the lines read are stored and the answer is 413")
	s.Int(&c.MaxDeliveries, "max-deliveries", natsx.MaxDeliveries, "an event the detection consumer still fails to handle at this delivery is dead-lettered (retries wait 1s, doubling up to 32s)")
	c.Auth.Flags(s, `sender tokens of the HTTP intake, one "<sender> <token>" per line (re-read on change and on SIGHUP; remove a line to cut a sender off)`)
	s.Duration(&c.MaxClockSkew, "max-clock-skew", DefaultMaxClockSkew, "events and product alerts dated more than this ahead of the receive time are refused with reason time-in-future (old events stay accepted)")
}

// DefaultServiceConfig is the ServiceConfig its flags give when none is set, with the HTTP
// intake on defaultAddr: the flag definitions are the one place of its defaults. A service's
// DefaultConfig holds it; code that builds an intake by hand (tests, adjoin ingest) starts here.
func DefaultServiceConfig(defaultAddr string) ServiceConfig {
	var c ServiceConfig
	config.Defaults(func(s *config.Set) { c.Flags(s, defaultAddr) })
	return c
}

// Validate names the first bad HTTP setting. Every setting is explicit: a zero is refused,
// not read as a default (start from DefaultServiceConfig).
func (c ServiceConfig) Validate() error {
	switch {
	case c.Listener == nil && c.HTTPAddr == "":
		return errors.New("http-addr: required")
	case c.ShutdownGrace <= 0:
		return fmt.Errorf("shutdown-grace: %s, want > 0", c.ShutdownGrace)
	case c.Tail != "" && c.TailPoll <= 0:
		return fmt.Errorf("tail-poll: %s, want > 0", c.TailPoll)
	case c.MaxDeliveries < 1:
		return fmt.Errorf("max-deliveries: %d, want >= 1", c.MaxDeliveries)
	case c.MaxClockSkew <= 0:
		return fmt.Errorf("max-clock-skew: %s, want > 0 (default %s)", c.MaxClockSkew, DefaultMaxClockSkew)
	case c.MaxLines < 1:
		return fmt.Errorf("max-lines: %d, want >= 1", c.MaxLines)
	case (c.SyslogTCPAddr != "" || c.SyslogUDPAddr != "") && c.SyslogMaxMessage < 1:
		return fmt.Errorf("syslog-max-message: %d, want >= 1", c.SyslogMaxMessage)
	}
	if err := c.Auth.Validate(); err != nil {
		return err
	}
	// A Listener passed in was opened by the embedder (tests, adjoin dev), who chose its address.
	if c.Listener == nil {
		if err := c.Auth.CheckListen("http-addr", c.HTTPAddr); err != nil {
			return err
		}
	}
	for _, a := range []struct{ name, addr string }{{"syslog-tcp-addr", c.SyslogTCPAddr}, {"syslog-udp-addr", c.SyslogUDPAddr}} {
		if a.addr != "" && !c.Auth.Insecure && !authn.Loopback(a.addr) {
			return fmt.Errorf("%s %q is not a loopback address and syslog cannot authenticate senders: listen on 127.0.0.1 "+
				"behind a relay you trust, or pass --insecure to accept syslog from anyone who can reach the port", a.name, a.addr)
		}
	}
	for _, p := range config.SplitList(c.Tail) {
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("tail: pattern %q: %w", p, err)
		}
	}
	return nil
}

// Pipeline is what differs between the two ingestors.
type Pipeline struct {
	Service       string // "dcingest"
	SubjectPrefix string // events.dc
	Stream        string // DC_EVENTS
	Detectors     []detection.Detector
	OnEvent       func(ctx context.Context, ev *adjoinv1.Event) error
	Ready         httpx.Check
	Metrics       *metrics.Metrics
	// Routes are more HTTP handlers on the intake port (product alerts).
	Routes map[string]http.Handler
	// Follow are more files to follow, each set with its own parser (a Samba DC's log).
	Follow []Follow
	// Formats are ?format= values of POST /v1/events read with a parser chosen per request.
	Formats map[string]RequestParser
	// Live, when set, is the liveness check of /healthz: it fails once the service's NATS
	// connection is closed for good (nats.go never rebuilds it), so that the orchestrator
	// restarts the process; the service's runtime also stops on that close.
	Live httpx.Check
}

// Follow is a set of files read with their own parser, stored as --tail files are, with their
// offsets in adjoin_status under "tail.<service>.<Name>.".
type Follow struct {
	Name     string // "samba"
	Patterns []string
	Parse    Parser
}

// Serve runs the HTTP intake and the detection consumer until ctx ends. On shutdown the
// listener closes first (no new batches), requests in flight finish, then the consumer stops
// after its current batch.
func Serve(ctx context.Context, js jetstream.JetStream, cfg ServiceConfig, p Pipeline, log *zap.Logger) error {
	ln, err := httpx.Listen(cfg.Listener, cfg.HTTPAddr)
	if err != nil {
		return err
	}
	guard, tlsConf, err := intakeAuth(cfg.Auth, ln.Addr().String(), p, log)
	if err != nil {
		ln.Close()
		return err
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	mux := httpx.NewMux(p.Live, p.Ready, p.Metrics.Handler())
	handler := &Handler{
		JS: js, Service: p.Service, Parse: ParseAny, Log: log, Metrics: p.Metrics,
		Subject: func(ev *adjoinv1.Event) string { return EventSubject(p.SubjectPrefix, ev) },
		Formats: p.Formats, MaxClockSkew: cfg.MaxClockSkew, MaxLines: cfg.MaxLines,
	}
	mux.Handle("/v1/events", handler)
	for path, h := range p.Routes {
		mux.Handle(path, h)
	}
	runner := &detection.Runner{
		JS: js, Stream: p.Stream, Durable: p.Service + "-detect", Service: p.Service,
		Detectors: p.Detectors, OnEvent: p.OnEvent, Log: log, Metrics: p.Metrics, MaxDeliveries: cfg.MaxDeliveries,
	}
	g, gctx := errgroup.WithContext(ctx)
	if guard.Tokens != nil {
		g.Go(func() error { guard.Tokens.Watch(gctx, 5*time.Second, log); return nil })
	}
	g.Go(func() error { return httpx.Serve(gctx, ln, guard.Wrap(mux), cfg.ShutdownGrace, log) })
	g.Go(func() error { return runner.Run(gctx) })
	if cfg.SyslogTCPAddr != "" || cfg.SyslogUDPAddr != "" {
		srv := &syslog.Server{TCPAddr: cfg.SyslogTCPAddr, UDPAddr: cfg.SyslogUDPAddr, Handle: SyslogHandler(handler),
			MaxMessage: cfg.SyslogMaxMessage, ShutdownGrace: cfg.ShutdownGrace, Log: log.Named("syslog")}
		g.Go(func() error { return srv.Run(gctx) })
	}
	follow := p.Follow
	if patterns := config.SplitList(cfg.Tail); len(patterns) > 0 {
		follow = append([]Follow{{Patterns: patterns}}, follow...)
	}
	for _, f := range follow {
		if len(f.Patterns) == 0 {
			continue
		}
		statusKV, err := js.KeyValue(ctx, natsx.BucketStatus)
		if err != nil {
			return fmt.Errorf("tail offsets: %w", err)
		}
		h, prefix := handler, "tail."+p.Service+"."
		if f.Parse != nil {
			h = &Handler{}
			*h = *handler
			h.Parse = f.Parse
		}
		if f.Name != "" {
			prefix += f.Name + "."
		}
		t := &tail.Tailer{Patterns: f.Patterns, Poll: cfg.TailPoll, Log: log, Handle: TailHandler(h, ""),
			Store: tail.KVStore{KV: statusKV, Prefix: prefix}}
		g.Go(func() error { return t.Run(gctx) })
		log.Info("following files", zap.String("as", cmp.Or(f.Name, "events")), zap.Strings("patterns", f.Patterns))
	}
	g.Go(func() error {
		p.Metrics.PollConsumers(gctx, js, p.Service, 5*time.Second, metrics.Consumer{Stream: p.Stream, Name: runner.Durable})
		return nil
	})
	return g.Wait()
}
