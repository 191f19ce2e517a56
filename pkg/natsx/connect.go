package natsx

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/logx"
)

// ConnectOptions says where and how a service connects.
type ConnectOptions struct {
	// URL is one or more comma-separated server URLs.
	URL string
	// Name identifies the client in server monitoring, e.g. "adjoin-dcingest".
	Name string
	// User and Password, when set, authenticate with user/password.
	User, Password string
	// PasswordFile, when set, holds User's password; it is read again on every reconnect, so
	// a rotated password is picked up without a restart.
	PasswordFile string
	// CredsFile, when set, authenticates with a .creds file (JWT + nkey).
	CredsFile string
	// CAFile is the CA bundle the server certificate must chain to; setting it requires TLS.
	CAFile string
	// CertFile and KeyFile are the client certificate and key, for servers that verify client
	// certificates (mTLS).
	CertFile, KeyFile string
	// InboxPrefix starts the subjects replies come back on. Empty means "_INBOX_<user>" when
	// User is set (the shipped server config lets each user read only its own replies), else
	// "_INBOX".
	InboxPrefix string
}

// Connect dials NATS and keeps reconnecting forever with jittered backoff, so a NATS restart
// pauses a service instead of killing it. The first connection is retried until ctx ends.
func Connect(ctx context.Context, o ConnectOptions, log *zap.Logger) (*nats.Conn, error) {
	if o.URL == "" {
		return nil, fmt.Errorf("nats: empty server URL")
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.CustomReconnectDelay(backoff),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil on a deliberate Close or Drain
				log.Warn("nats disconnected", logx.Err(err))
			}
		}),
		nats.ClosedHandler(func(c *nats.Conn) {
			// A close we did not ask for (no Close or Drain) carries the server's error; the
			// connection is never rebuilt, so WatchClosed ends the service.
			if err := c.LastError(); err != nil {
				log.Error("nats connection closed with an error; it is never rebuilt", logx.Err(err))
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", zap.String("url", c.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subject := ""
			if s != nil {
				subject = s.Subject
			}
			log.Error("nats async error", zap.String("subject", subject), logx.Err(err))
		}),
	}
	opts = append(opts, o.authOptions()...)
	for attempt := 1; ; attempt++ {
		nc, err := nats.Connect(o.URL, opts...)
		if err == nil {
			return nc, nil
		}
		log.Warn("nats connect failed, retrying", zap.Int("attempt", attempt), logx.Err(err))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("nats connect to %s: %w (last error: %v)", o.URL, ctx.Err(), err)
		case <-time.After(backoff(attempt)):
		}
	}
}

// backoff doubles from 250ms up to 5s.
func backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond
	for i := 1; i < attempt && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}
