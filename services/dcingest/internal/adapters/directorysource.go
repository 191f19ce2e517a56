package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// KeysOfSource returns the keys of the entries whose entity came from source (Entity.source),
// so that a full sync can remove what its source no longer has without touching entries of
// another source, such as an LDIF import.
func (d DirectoryKV) KeysOfSource(ctx context.Context, source string) ([]string, error) {
	w, err := d.KV.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read directory: %w", err)
	}
	defer w.Stop() //nolint:errcheck // nothing to do about a failed stop
	var keys []string
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("read directory: watcher closed")
			}
			if e == nil { // every current value has been seen
				return keys, nil
			}
			var ent adjoinv1.Entity
			if natsx.Decode(nil, e.Value(), &ent) == nil && ent.GetSource() == source {
				keys = append(keys, e.Key())
			}
		}
	}
}

// DeleteOfSource deletes the entries with the given keys whose entity still came from source
// (one written since by another source is kept), and returns how many it deleted.
func (d DirectoryKV) DeleteOfSource(ctx context.Context, source string, keys []string) (int, error) {
	n := 0
	for _, k := range keys {
		cur, err := d.KV.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("read directory entry %s: %w", k, err)
		}
		var ent adjoinv1.Entity
		if natsx.Decode(nil, cur.Value(), &ent) != nil || ent.GetSource() != source {
			continue
		}
		if err := d.KV.Delete(ctx, k, jetstream.LastRevision(cur.Revision())); err != nil {
			return n, fmt.Errorf("delete directory entry %s: %w", k, err)
		}
		n++
	}
	return n, nil
}
