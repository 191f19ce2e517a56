package directory

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// SyncKeyPrefix starts the adjoin_status key of every directory source's sync state:
// directory.<source token>.
const SyncKeyPrefix = "directory."

// SyncKey is the adjoin_status key of one source's sync state.
func SyncKey(source string) string { return SyncKeyPrefix + natsx.Token(source) }

// PutSync stores what a directory source last did, for the status page.
func PutSync(ctx context.Context, kv jetstream.KeyValue, s *adjoinv1.DirectorySync) error {
	data, err := proto.Marshal(s)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, SyncKey(s.GetSource()), data); err != nil {
		return fmt.Errorf("store directory sync status of %s: %w", s.GetSource(), err)
	}
	return nil
}

// GetSync returns the stored state of one source, or nil when there is none.
func GetSync(ctx context.Context, kv jetstream.KeyValue, source string) (*adjoinv1.DirectorySync, error) {
	e, err := kv.Get(ctx, SyncKey(source))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s := &adjoinv1.DirectorySync{}
	if err := natsx.Decode(nil, e.Value(), s); err != nil {
		return nil, fmt.Errorf("directory sync status of %s: %w", source, err)
	}
	return s, nil
}

// ListSyncs returns the state of every directory source in the status bucket.
func ListSyncs(ctx context.Context, kv jetstream.KeyValue) ([]*adjoinv1.DirectorySync, error) {
	return natsx.ListKV(ctx, kv, SyncKeyPrefix, func() *adjoinv1.DirectorySync { return &adjoinv1.DirectorySync{} })
}
