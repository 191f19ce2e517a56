package natsx_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// TestFollow loads buckets keeping one and several revisions per key: Follow returns with the
// last revision of every key applied (a deleted key as a deletion), each key once, then passes
// on later changes.
func TestFollow(t *testing.T) {
	for _, history := range []uint8{1, 5} {
		t.Run(fmt.Sprintf("history %d", history), func(t *testing.T) {
			srv := natstest.Start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			kv, err := srv.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "follow_test", History: history})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range [][2]string{{"a", "1"}, {"a", "2"}, {"b", "1"}, {"c", "1"}} {
				if _, err := kv.PutString(ctx, p[0], p[1]); err != nil {
					t.Fatal(err)
				}
			}
			if err := kv.Delete(ctx, "b"); err != nil {
				t.Fatal(err)
			}

			var mu sync.Mutex
			got, applied := map[string]string{}, map[string]int{}
			apply := func(e jetstream.KeyValueEntry) {
				mu.Lock()
				defer mu.Unlock()
				applied[e.Key()]++
				if natsx.Deleted(e) {
					got[e.Key()] = "deleted"
					return
				}
				got[e.Key()] = string(e.Value())
			}
			if err := natsx.Follow(ctx, kv, apply); err != nil {
				t.Fatalf("Follow: %v", err)
			}
			mu.Lock()
			want := map[string]string{"a": "2", "b": "deleted", "c": "1"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("loaded %v, want %v", got, want)
			}
			for key, n := range applied {
				if n != 1 {
					t.Errorf("key %s applied %d times in the load, want once", key, n)
				}
			}
			mu.Unlock()

			if _, err := kv.PutString(ctx, "d", "1"); err != nil {
				t.Fatal(err)
			}
			for {
				mu.Lock()
				v := got["d"]
				mu.Unlock()
				if v == "1" {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatal("a change after the load never arrived")
				case <-time.After(10 * time.Millisecond):
				}
			}
		})
	}
}
