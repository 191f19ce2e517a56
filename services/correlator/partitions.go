package correlator

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
)

// MaxPartitions bounds --partitions: each partition is one consumer and one owner's state.
const MaxPartitions = 1024

// recordPartitions records n as the number of COUNTS partitions on the first start and, on
// every later start, refuses an n that differs from the one recorded: an entity's partition
// is fnv32a(key) mod n, so another n would hand entities to owners that never counted them.
func recordPartitions(ctx context.Context, kv jetstream.KeyValue, n int) error {
	for range 3 {
		e, err := kv.Get(ctx, natsx.ConfigPartitionsKey)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			_, err = kv.Create(ctx, natsx.ConfigPartitionsKey, []byte(strconv.Itoa(n)))
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue // another instance recorded it meanwhile: compare with that
			}
			if err != nil {
				return fmt.Errorf("record %s: %w", natsx.ConfigPartitionsKey, err)
			}
			return nil
		case err != nil:
			return fmt.Errorf("read %s: %w", natsx.ConfigPartitionsKey, err)
		}
		recorded, err := strconv.Atoi(strings.TrimSpace(string(e.Value())))
		if err != nil || recorded < 1 {
			return fmt.Errorf("adjoin_config %s holds %q, not a number of partitions", natsx.ConfigPartitionsKey, e.Value())
		}
		if recorded != n {
			return fmt.Errorf("partitions: started with --partitions %d but adjoin_config %s records %d; changing the number of "+
				"partitions is a migration, which is not supported yet: start every correlator with --partitions %d", n, natsx.ConfigPartitionsKey, recorded, recorded)
		}
		return nil
	}
	return fmt.Errorf("record %s: still changing after 3 reads", natsx.ConfigPartitionsKey)
}
