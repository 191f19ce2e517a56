// Package heartbeat writes each service instance's heartbeat to the adjoin_status bucket: who
// runs, since when, which version, the last error it logged, and whether it stopped cleanly.
// The status page and `adjoin status` read them back.
package heartbeat

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// KeyPrefix starts every heartbeat key: service.<service>.<instance>.
const KeyPrefix = "service."

// Instance names this process: host name and process id.
func Instance() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// Run writes the heartbeat every period until ctx ends, then once more marked stopped. Each
// beat carries the counters (nil: none).
func Run(ctx context.Context, js jetstream.JetStream, service, version string, lastErr *logx.LastError, counters *Counters, period time.Duration, log *zap.Logger) {
	kv, err := js.KeyValue(ctx, natsx.BucketStatus)
	if err != nil {
		log.Warn("no heartbeat: status bucket unavailable", logx.Err(err))
		return
	}
	if n, err := deleteExpired(ctx, kv, service, time.Now()); err != nil {
		log.Debug("expired heartbeats not deleted", logx.Err(err))
	} else if n > 0 {
		log.Debug("expired heartbeats deleted", zap.Int("count", n))
	}
	hb := &adjoinv1.ServiceHeartbeat{Service: service, Instance: Instance(), Version: version, Started: timestamppb.Now()}
	key := KeyPrefix + service + "." + natsx.KeyToken(hb.GetInstance())
	beat := func(ctx context.Context, stopped bool) {
		hb.LastSeen, hb.Stopped, hb.Counters = timestamppb.Now(), stopped, counters.Snapshot()
		if lastErr != nil {
			if msg, at := lastErr.Get(); msg != "" {
				hb.LastError, hb.LastErrorTime = msg, timestamppb.New(at)
			}
		}
		data, err := proto.Marshal(hb)
		if err == nil {
			_, err = kv.Put(ctx, key, data)
		}
		if err != nil && ctx.Err() == nil {
			log.Debug("heartbeat not written", logx.Err(err))
		}
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		beat(ctx, false)
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			beat(sctx, true)
			cancel()
			return
		case <-t.C:
		}
	}
}

// How long a heartbeat row stays on the status page after its instance went quiet: one that
// stopped cleanly for StoppedExpiry, one that stopped beating without saying so (crashed, cut
// off) for SilentExpiry, so a crash stays visible for a day while restarts do not pile up.
const (
	StoppedExpiry = 10 * time.Minute
	SilentExpiry  = 24 * time.Hour
)

// Expired reports whether hb is past its expiry at now.
func Expired(hb *adjoinv1.ServiceHeartbeat, now time.Time) bool {
	age := now.Sub(hb.GetLastSeen().AsTime())
	if hb.GetStopped() {
		return age > StoppedExpiry
	}
	return age > SilentExpiry
}

// Current returns the heartbeats of hbs that are not expired at now, in their order.
func Current(hbs []*adjoinv1.ServiceHeartbeat, now time.Time) []*adjoinv1.ServiceHeartbeat {
	out := make([]*adjoinv1.ServiceHeartbeat, 0, len(hbs))
	for _, hb := range hbs {
		if !Expired(hb, now) {
			out = append(out, hb)
		}
	}
	return out
}

// deleteExpired removes the expired heartbeats of service from the bucket: each instance, when
// it starts, clears what earlier instances of its service left.
func deleteExpired(ctx context.Context, kv jetstream.KeyValue, service string, now time.Time) (int, error) {
	hbs, err := List(ctx, kv)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, hb := range hbs {
		if hb.GetService() != service || !Expired(hb, now) {
			continue
		}
		if err := kv.Delete(ctx, KeyPrefix+service+"."+natsx.KeyToken(hb.GetInstance())); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// List returns every heartbeat in the status bucket.
func List(ctx context.Context, kv jetstream.KeyValue) ([]*adjoinv1.ServiceHeartbeat, error) {
	return natsx.ListKV(ctx, kv, KeyPrefix, func() *adjoinv1.ServiceHeartbeat { return &adjoinv1.ServiceHeartbeat{} })
}

// Start attaches a last-error recorder to log and writes heartbeats in the background. It
// returns the logger to use, the counters the heartbeats carry, and a stop function that
// writes the final "stopped" heartbeat; call it before the NATS connection is drained.
func Start(ctx context.Context, js jetstream.JetStream, service, version string, log *zap.Logger) (*zap.Logger, *Counters, func()) {
	var lastErr logx.LastError
	counters := &Counters{}
	log = lastErr.Attach(log)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, js, service, version, &lastErr, counters, 10*time.Second, log)
	}()
	return log, counters, func() { cancel(); <-done }
}
