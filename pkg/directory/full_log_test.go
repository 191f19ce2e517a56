package directory

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// putEntry is a bucket entry written with value.
type putEntry struct {
	jetstream.KeyValueEntry
	key   string
	value []byte
}

func (e putEntry) Key() string                     { return e.key }
func (e putEntry) Value() []byte                   { return e.value }
func (e putEntry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePut }

// TestApplyFullSaysFull: an entry the full index refuses is logged as such, not as undecodable,
// and OnChange is not called for it.
func TestApplyFullSaysFull(t *testing.T) {
	ix := NewIndex()
	ix.testArenaLimit = 1 << 10
	changed := 0
	ix.OnChange = func(string) { changed++ }
	core, logs := observer.New(zapcore.InfoLevel)
	e := &adjoinv1.Entity{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: "S-1-5-21-1-2-3-1000",
		SamAccountName: strings.Repeat("x", 2<<10)}
	data, err := proto.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	ix.apply(putEntry{key: e.GetSid(), value: data}, zap.New(core))
	if got := logs.FilterMessageSnippet("directory index full").Len(); got != 1 || logs.FilterMessageSnippet("undecodable").Len() != 0 {
		t.Errorf("logged %v, want one 'directory index full'", logs.All())
	}
	if changed != 0 || ix.Len() != 0 {
		t.Errorf("OnChange called %d times, %d entities held, want 0 and 0", changed, ix.Len())
	}
}
