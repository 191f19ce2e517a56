package tail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// KVStore keeps offsets in a KV bucket (adjoin uses adjoin_status) under Prefix + file key.
type KVStore struct {
	KV     jetstream.KeyValue
	Prefix string // e.g. "tail.dcingest."
}

// Load implements Store.
func (s KVStore) Load(ctx context.Context, key string) (Offset, bool, error) {
	e, err := s.KV.Get(ctx, s.Prefix+key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return Offset{}, false, nil
	case err != nil:
		return Offset{}, false, fmt.Errorf("offset %s: %w", key, err)
	}
	var o Offset
	if err := json.Unmarshal(e.Value(), &o); err != nil {
		return Offset{}, false, fmt.Errorf("offset %s: %w", key, err)
	}
	return o, true, nil
}

// Save implements Store.
func (s KVStore) Save(ctx context.Context, key string, o Offset) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if _, err := s.KV.Put(ctx, s.Prefix+key, b); err != nil {
		return fmt.Errorf("offset %s: %w", key, err)
	}
	return nil
}
