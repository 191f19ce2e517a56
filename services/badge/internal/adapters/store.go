// Package adapters holds the badge service's outgoing side: reading the adjoin_badges,
// adjoin_devices and adjoin_config buckets.
package adapters

import (
	"context"
	"errors"
	"fmt"
	"strings"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/badge/internal/app"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
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

// ToggleKey is the adjoin_config key of a side's integration toggle; its value is "on" or "off"
// ("false", "disabled", "0" and "no" also mean off; a missing key means on).
func ToggleKey(side adjoinv1.Side) string {
	return "integration." + strings.TrimPrefix(strings.ToLower(side.String()), "side_")
}

// IntegrationEnabled implements app.Store.
func (s KVStore) IntegrationEnabled(ctx context.Context, side adjoinv1.Side) (bool, error) {
	e, err := s.Config.Get(ctx, ToggleKey(side))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("read %s: %w", ToggleKey(side), err)
	}
	switch strings.ToLower(strings.TrimSpace(string(e.Value()))) {
	case "off", "false", "disabled", "0", "no":
		return false, nil
	}
	return true, nil
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
