package directory

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/entity"
)

// TestIndexFullRefusesInsteadOfPanicking fills an index whose arena limit is small, as 4 GiB
// of strings (thousands of entities with a megabyte of SPNs each) would fill a real one: the
// entity that does not fit is refused with ErrFull, naming it, and everything already held
// stays served; room freed by deletes is used again.
func TestIndexFullRefusesInsteadOfPanicking(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	ix := NewIndex()
	ix.testArenaLimit = 64 << 10
	big := strings.Repeat("x", 4<<10)

	var held []string
	var refused error
	for i := 0; refused == nil; i++ {
		e := synthEntity(r, i)
		e.ServicePrincipalNames = append(e.ServicePrincipalNames, "HTTP/"+big)
		if refused = ix.Put(e); refused == nil {
			held = append(held, entity.Key(e))
			continue
		}
		if !errors.Is(refused, ErrFull) || !strings.Contains(refused.Error(), entity.Key(e)) {
			t.Fatalf("Put at the limit = %v, want ErrFull naming %s", refused, entity.Key(e))
		}
		if _, ok := ix.Get(entity.Key(e)); ok {
			t.Fatalf("refused entity %s is in the index", entity.Key(e))
		}
		// The same through the bucket's path (putBytes), which the watch logs and skips.
		data, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := ix.putBytes(data); !errors.Is(err, ErrFull) {
			t.Fatalf("putBytes at the limit = %v, want ErrFull", err)
		}
	}
	if len(held) < 2 {
		t.Fatalf("only %d entities fit under the limit", len(held))
	}
	for _, key := range held {
		if got, ok := ix.Get(key); !ok || got.GetKey() != key {
			t.Fatalf("entity %s held before the limit reads back as %v, %v", key, got, ok)
		}
	}
	if ix.Len() != len(held) {
		t.Fatalf("Len = %d, want %d", ix.Len(), len(held))
	}

	// Deleting half makes room: the next entity fits after a compaction.
	for _, key := range held[:len(held)/2] {
		ix.Delete(key)
	}
	e := synthEntity(r, 1_000_000)
	e.ServicePrincipalNames = append(e.ServicePrincipalNames, "HTTP/"+big)
	if err := ix.Put(e); err != nil {
		t.Fatalf("Put after deletes freed room = %v", err)
	}
	if got, ok := ix.Get(entity.Key(e)); !ok || got.GetServicePrincipalNames()[len(got.GetServicePrincipalNames())-1] != "HTTP/"+big {
		t.Fatalf("entity put after compaction reads back as %v, %v", got, ok)
	}
	for _, key := range held[len(held)/2:] {
		if _, ok := ix.Get(key); !ok {
			t.Fatalf("entity %s lost in the compaction", key)
		}
	}
}
