package badge

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/service"
	"github.com/adjoin/adjoin/services/badge/internal/app"
	"github.com/adjoin/adjoin/services/badge/internal/console"
	"github.com/adjoin/adjoin/services/badge/internal/ports"
)

// serveConsole adds the web console to mux and returns the listener to serve mux on: ln, or
// ln wrapped in TLS with the gRPC port's certificate when tls-cert is set. Client certificates
// are then asked for but not required, so probes and scrapes of the same port still answer;
// the console itself refuses a caller with neither a certificate nor a token.
func serveConsole(ctx context.Context, rt *service.Runtime, cfg Config, mux *http.ServeMux, ln net.Listener,
	api *ports.GRPCServer, auth *ports.Auth, view *app.View) (net.Listener, error) {
	h, err := console.New(ctx, console.Options{API: api, Auth: auth, Changes: view.Subscribe, Log: rt.Log,
		MaxLive: cfg.ConsoleMaxLive})
	if err != nil {
		return nil, err
	}
	mux.Handle(console.Prefix, h)
	tc, err := cfg.Security.settings().ServerTLS()
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("console: %w", err)
	}
	scheme := "http"
	if tc != nil {
		if tc.ClientAuth == tls.RequireAndVerifyClientCert {
			tc.ClientAuth = tls.VerifyClientCertIfGiven
		}
		ln, scheme = tls.NewListener(ln, tc), "https"
	}
	rt.Log.Info("web console", zap.String("url", scheme+"://"+ln.Addr().String()+console.Prefix), zap.Bool("auth", auth.Enabled()))
	return ln, nil
}
