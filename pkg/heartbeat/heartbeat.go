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

// Run writes the heartbeat every period until ctx ends, then once more marked stopped.
func Run(ctx context.Context, js jetstream.JetStream, service, version string, lastErr *logx.LastError, period time.Duration, log *zap.Logger) {
	kv, err := js.KeyValue(ctx, natsx.BucketStatus)
	if err != nil {
		log.Warn("no heartbeat: status bucket unavailable", logx.Err(err))
		return
	}
	hb := &adjoinv1.ServiceHeartbeat{Service: service, Instance: Instance(), Version: version, Started: timestamppb.Now()}
	key := KeyPrefix + service + "." + natsx.KeyToken(hb.GetInstance())
	beat := func(ctx context.Context, stopped bool) {
		hb.LastSeen, hb.Stopped = timestamppb.Now(), stopped
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

// List returns every heartbeat in the status bucket.
func List(ctx context.Context, kv jetstream.KeyValue) ([]*adjoinv1.ServiceHeartbeat, error) {
	return natsx.ListKV(ctx, kv, KeyPrefix, func() *adjoinv1.ServiceHeartbeat { return &adjoinv1.ServiceHeartbeat{} })
}

// Start attaches a last-error recorder to log and writes heartbeats in the background. It
// returns the logger to use and a stop function that writes the final "stopped" heartbeat;
// call it before the NATS connection is drained.
func Start(ctx context.Context, js jetstream.JetStream, service, version string, log *zap.Logger) (*zap.Logger, func()) {
	var lastErr logx.LastError
	log = lastErr.Attach(log)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, js, service, version, &lastErr, 10*time.Second, log)
	}()
	return log, func() { cancel(); <-done }
}
