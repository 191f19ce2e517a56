package natsx

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// ListKV returns the entries of kv whose keys start with prefix, each decoded into a message
// from newMsg. An entry deleted while listing, or one that does not decode, is passed over:
// a status page shows what it can read.
func ListKV[M proto.Message](ctx context.Context, kv jetstream.KeyValue, prefix string, newMsg func() M) ([]M, error) {
	lister, err := kv.ListKeysFiltered(ctx, prefix+">")
	if err != nil {
		return nil, err
	}
	var out []M
	for k := range lister.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		if m := newMsg(); Decode(nil, e.Value(), m) == nil {
			out = append(out, m)
		}
	}
	return out, nil
}
