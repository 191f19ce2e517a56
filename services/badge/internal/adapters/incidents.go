package adapters

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// FollowIncidents loads the adjoin_incidents bucket (read only; the correlator writes it) into
// idx and keeps it current until ctx ends. It returns once the stored incidents were loaded.
func FollowIncidents(ctx context.Context, kv jetstream.KeyValue, idx *app.Incidents, log *zap.Logger) error {
	return natsx.Follow(ctx, kv, func(e jetstream.KeyValueEntry) {
		if natsx.Deleted(e) {
			idx.Set(e.Key(), nil)
			return
		}
		inc := &adjoinv1.Incident{}
		if err := natsx.Decode(nil, e.Value(), inc); err != nil {
			log.Error("skipping undecodable incident", zap.String("incident", e.Key()), logx.Err(err))
			return
		}
		idx.Put(e.Key(), inc, e.Value()) // the index keeps its own copy of the encoding
	})
}
