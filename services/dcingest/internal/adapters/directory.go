// Package adapters holds the DC ingestor's outgoing side: writing directory entities to the
// adjoin_directory bucket.
package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// DirectoryKV writes entities into the adjoin_directory bucket.
type DirectoryKV struct {
	KV jetstream.KeyValue
}

// ImportResult counts what an import did.
type ImportResult struct {
	Written, Unchanged int
}

// Import stores every entity under its key, skipping entities whose stored value is already
// equal, so re-importing the same export writes nothing and wakes no watcher.
func (d DirectoryKV) Import(ctx context.Context, entities []*adjoinv1.Entity) (ImportResult, error) {
	var res ImportResult
	for _, e := range entities {
		if e.GetKey() == "" {
			return res, fmt.Errorf("entity %q has no key", e.GetDistinguishedName())
		}
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
		if err != nil {
			return res, fmt.Errorf("marshal entity %s: %w", e.GetKey(), err)
		}
		cur, err := d.KV.Get(ctx, e.GetKey())
		switch {
		case err == nil:
			var old adjoinv1.Entity
			if natsx.Decode(nil, cur.Value(), &old) == nil && proto.Equal(&old, e) {
				res.Unchanged++
				continue
			}
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return res, fmt.Errorf("read directory entry %s: %w", e.GetKey(), err)
		}
		if _, err := d.KV.Put(ctx, e.GetKey(), data); err != nil {
			return res, fmt.Errorf("write directory entry %s: %w", e.GetKey(), err)
		}
		res.Written++
	}
	return res, nil
}
