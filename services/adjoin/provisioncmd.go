package adjoin

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// ProvisionConfig is the setting of `adjoin provision`.
type ProvisionConfig struct {
	NATS natsx.Settings
	// Timeout bounds the whole run: connecting, and retrying while a cluster forms.
	Timeout  time.Duration
	LogLevel string
}

func (c *ProvisionConfig) flags(s *config.Set) {
	c.NATS.Flags(s)
	s.Duration(&c.Timeout, "timeout", 2*time.Minute, "give up after this long (NATS down, cluster still forming)")
	s.Env("timeout", "ADJOIN_PROVISION_TIMEOUT") // ADJOIN_TIMEOUT is one call's deadline in the client commands
	s.String(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
}

func runProvision(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg ProvisionConfig
	s := commandSet("provision")
	cfg.flags(s)
	if done, err := parse(s, args, stdout); done || err != nil {
		return err
	}
	if err := cfg.NATS.Validate(); err != nil {
		return err
	}
	if cfg.Timeout <= 0 {
		return fmt.Errorf("timeout: %s, want > 0", cfg.Timeout)
	}
	log, err := logx.New(cfg.LogLevel, "console")
	if err != nil {
		return fmt.Errorf("log-level: %w", err)
	}
	top, err := Provision(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "provisioned %d streams and %d buckets with %d replica(s) on %s\n",
		len(top.Streams), len(top.Buckets), cfg.NATS.Replicas, cfg.NATS.URL)
	return nil
}

// Provision connects (as the admin user, on the shipped server config) and creates or updates
// every stream and bucket of the contract, retrying until cfg.Timeout: a cluster that is still
// electing its leaders refuses for a while. It never deletes or purges anything.
func Provision(ctx context.Context, cfg ProvisionConfig, log *zap.Logger) (natsx.Topology, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	o := cfg.NATS.ConnectOptions
	if o.Name == "" {
		o.Name = "adjoin-provision"
	}
	nc, err := natsx.Connect(ctx, o, log)
	if err != nil {
		return natsx.Topology{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return natsx.Topology{}, fmt.Errorf("jetstream: %w", err)
	}
	top := natsx.NewTopology(cfg.NATS.Replicas)
	for attempt := 1; ; attempt++ {
		pctx, cancelAttempt := context.WithTimeout(ctx, 10*time.Second)
		err = natsx.Provision(pctx, js, top)
		cancelAttempt()
		if err == nil {
			return top, nil
		}
		log.Warn("provisioning failed, retrying", zap.Int("attempt", attempt), logx.Err(err),
			zap.NamedError("last_nats_error", nc.LastError()))
		select {
		case <-ctx.Done():
			return top, fmt.Errorf("provision on %s: %w (last error: %v)", cfg.NATS.URL, ctx.Err(), err)
		case <-time.After(min(time.Duration(attempt)*time.Second, 5*time.Second)):
		}
	}
}
