// Package adapters holds the badge service's outgoing side: reading the adjoin_badges,
// adjoin_devices, adjoin_config and adjoin_incidents buckets.
package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// KVStore reads the adjoin_badges, adjoin_devices and adjoin_config buckets.
type KVStore struct {
	Badges, Devices, Config jetstream.KeyValue
}

var _ app.Store = KVStore{}

// Counts implements app.Store.
func (s KVStore) Counts(ctx context.Context, key string) (*adjoinv1.EntityCounts, bool, error) {
	ec := &adjoinv1.EntityCounts{EntityKey: key}
	ok, err := get(ctx, s.Badges, key, ec)
	return ec, ok, err
}

// Device implements app.Store.
func (s KVStore) Device(ctx context.Context, key string) (*adjoinv1.DeviceRecord, bool, error) {
	rec := &adjoinv1.DeviceRecord{}
	ok, err := get(ctx, s.Devices, key, rec)
	return rec, ok, err
}

// IntegrationEnabled implements app.Store.
func (s KVStore) IntegrationEnabled(ctx context.Context, side adjoinv1.Side) (bool, error) {
	e, err := s.Config.Get(ctx, app.ToggleKey(side))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("read %s: %w", app.ToggleKey(side), err)
	}
	return app.ToggleOn(string(e.Value())), nil
}

func get(ctx context.Context, kv jetstream.KeyValue, key string, m proto.Message) (bool, error) {
	e, err := kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read %s from %s: %w", key, kv.Bucket(), err)
	}
	if err := natsx.Decode(nil, e.Value(), m); err != nil {
		return false, fmt.Errorf("stored %s in %s: %w", key, kv.Bucket(), err)
	}
	return true, nil
}

// PutConfig implements app.ConfigWriter.
func (s KVStore) PutConfig(ctx context.Context, key, value string) error {
	if _, err := s.Config.PutString(ctx, key, value); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}
