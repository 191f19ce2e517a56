package adapters

import (
	"bytes"
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// Follow loads the badges, devices and config buckets into view and keeps it current until ctx
// ends. It returns once all three were loaded. The view takes each change under its own lock,
// so the buckets are followed concurrently.
func (s KVStore) Follow(ctx context.Context, view *app.View, log *zap.Logger) error {
	apply := map[string]func(jetstream.KeyValueEntry){
		natsx.BucketBadges: func(e jetstream.KeyValueEntry) {
			if natsx.Deleted(e) {
				view.SetCounts(e.Key(), nil)
				return
			}
			ec := &adjoinv1.EntityCounts{}
			if err := natsx.Decode(nil, e.Value(), ec); err != nil {
				log.Error("skipping undecodable counts", zap.String("entity", e.Key()), logx.Err(err))
				return
			}
			view.PutCounts(e.Key(), kept(e.Value())) // decoded when read (app.View)
		},
		natsx.BucketDevices: func(e jetstream.KeyValueEntry) {
			if natsx.Deleted(e) {
				view.SetDevice(e.Key(), nil)
				return
			}
			rec := &adjoinv1.DeviceRecord{}
			if err := natsx.Decode(nil, e.Value(), rec); err != nil {
				log.Error("skipping undecodable device record", zap.String("entity", e.Key()), logx.Err(err))
				return
			}
			view.PutDevice(e.Key(), kept(e.Value()))
		},
		natsx.BucketConfig: func(e jetstream.KeyValueEntry) {
			view.SetConfig(e.Key(), string(e.Value()), natsx.Deleted(e))
		},
	}
	// The three buckets load side by side; the first error is returned once all have ended.
	kvs := map[string]jetstream.KeyValue{natsx.BucketBadges: s.Badges, natsx.BucketDevices: s.Devices, natsx.BucketConfig: s.Config}
	errs := make(chan error, len(kvs))
	for bucket, kv := range kvs {
		go func() { errs <- natsx.Follow(ctx, kv, apply[bucket]) }()
	}
	var first error
	for range kvs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// kept is a copy of a bucket value to keep (so that nothing else of the message is held),
// never nil (nil removes).
func kept(value []byte) []byte {
	if len(value) == 0 {
		return []byte{}
	}
	return bytes.Clone(value)
}
