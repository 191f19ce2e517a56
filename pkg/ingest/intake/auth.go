package intake

import (
	"crypto/tls"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/authn"
)

// OpenPaths answer without credentials on an authenticated intake: probes and Prometheus
// scrapes carry none, and they take no input and name no entity.
var OpenPaths = []string{"/healthz", "/readyz", "/metrics"}

// intakeAuth loads the intake's TLS configuration and sender tokens and returns the guard every
// request passes: a token's sender, or the client certificate's common name, goes into the
// origin of the events it posts.
func intakeAuth(c authn.Settings, addr string, p Pipeline, log *zap.Logger) (*authn.Guard, *tls.Config, error) {
	tlsConf, err := c.ServerTLS()
	if err != nil {
		return nil, nil, err
	}
	g := &authn.Guard{ClientCerts: c.TLSClientCA != "", Open: OpenPaths, Refused: func(reason string) {
		if p.Metrics != nil {
			p.Metrics.IntakeUnauthorized.WithLabelValues(p.Service, reason).Inc()
		}
	}}
	if c.TokensFile != "" {
		if g.Tokens, err = authn.OpenTokenFile(c.TokensFile, authn.SenderName); err != nil {
			return nil, nil, err
		}
	}
	switch {
	case !g.Enabled() && authn.Loopback(addr):
		log.Info("the HTTP intake does not authenticate senders; it listens on loopback only", zap.String("addr", addr))
	case !g.Enabled():
		log.Warn("the HTTP intake does not authenticate senders: anyone who reaches its port may post events (see --tokens-file, --tls-client-ca)",
			zap.String("addr", addr), zap.Bool("tls", tlsConf != nil))
	case g.Tokens != nil && tlsConf == nil:
		log.Warn("sender tokens travel in clear text without --tls-cert and --tls-key", zap.Strings("senders", g.Tokens.Current().Names()))
	default:
		var senders []string
		if g.Tokens != nil {
			senders = g.Tokens.Current().Names()
		}
		log.Info("the HTTP intake authenticates senders", zap.Bool("tls", tlsConf != nil), zap.Bool("client_certs", g.ClientCerts),
			zap.Strings("senders", senders))
	}
	return g, tlsConf, nil
}
