package natsx_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// TestListKV lists the entries under a prefix of a real KV bucket: entries outside the prefix
// and ones that do not decode are passed over.
func TestListKV(t *testing.T) {
	kv := natstest.Start(t).KV(t, natsx.BucketStatus)
	ctx := context.Background()
	put := func(key string, data []byte) {
		t.Helper()
		if _, err := kv.Put(ctx, key, data); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	for _, svc := range []string{"badge", "correlator"} {
		data, err := proto.Marshal(&adjoinv1.ServiceHeartbeat{Service: svc})
		if err != nil {
			t.Fatal(err)
		}
		put("hb."+svc, data)
		put("other."+svc, data)
	}
	put("hb.garbage", []byte{0xff, 0xff, 0xff})

	got, err := natsx.ListKV(ctx, kv, "hb.", func() *adjoinv1.ServiceHeartbeat { return &adjoinv1.ServiceHeartbeat{} })
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, hb := range got {
		names = append(names, hb.GetService())
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"badge", "correlator"}) {
		t.Fatalf("listed %q, want the two heartbeats under hb.", names)
	}
}
