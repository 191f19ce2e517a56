package directory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit"
)

func putEntity(t *testing.T, kv jetstream.KeyValue, e *adjoinv1.Entity) {
	t.Helper()
	data, err := proto.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), entity.Key(e), data); err != nil {
		t.Fatalf("put %s: %v", entity.Key(e), err)
	}
}

func resolvesTo(ix *Index, ref *adjoinv1.EntityRef, wantKey string) func() error {
	return func() error {
		if got := keyOf(ix.Resolve(ref)); got != wantKey {
			return fmt.Errorf("Resolve(%v) = %q, want %q", ref, got, wantKey)
		}
		return nil
	}
}

func followShire(t *testing.T) (*Index, jetstream.KeyValue, *observer.ObservedLogs) {
	t.Helper()
	srv := natstest.Start(t)
	kv := srv.KV(t, natsx.BucketDirectory)
	for _, e := range shireEntities() {
		putEntity(t, kv, e)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ix := NewIndex()
	// ctx bounds the whole watch, not only the load: it must outlive this helper.
	if err := ix.Follow(ctx, kv, zap.New(core)); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	return ix, kv, logs
}

func TestFollowLoadsBeforeReturning(t *testing.T) {
	t.Parallel()
	ix, _, _ := followShire(t)
	// No polling: Follow promises a complete initial load.
	if got, want := ix.Len(), len(shireEntities()); got != want {
		t.Fatalf("Len right after Follow = %d, want %d", got, want)
	}
	for _, tt := range []struct {
		ref  *adjoinv1.EntityRef
		want string
	}{
		{&adjoinv1.EntityRef{Sid: sidPgustavo}, sidPgustavo},
		{&adjoinv1.EntityRef{DnsHostName: "WORKSTATION6.theshire.local"}, sidWS6},
		{&adjoinv1.EntityRef{SamAccountName: `THESHIRE\MORDORDC$`}, sidMordorDC},
		{&adjoinv1.EntityRef{ObjectGuid: guidWS7}, guidWS7},
	} {
		if err := resolvesTo(ix, tt.ref, tt.want)(); err != nil {
			t.Error(err)
		}
	}
}

func TestFollowEmptyBucket(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ix := NewIndex()
	if err := ix.Follow(ctx, srv.KV(t, natsx.BucketDirectory), zap.NewNop()); err != nil {
		t.Fatalf("Follow on an empty bucket: %v", err)
	}
	if ix.Len() != 0 {
		t.Fatalf("Len = %d, want 0", ix.Len())
	}
}

func TestFollowAppliesPutAndDelete(t *testing.T) {
	t.Parallel()
	ix, kv, _ := followShire(t)
	ctx := context.Background()

	// A new computer joins the domain.
	ws8 := shireComputer(shireDomainSID+"-1114", "WORKSTATION8")
	putEntity(t, kv, ws8)
	testkit.Eventually(t, 5*time.Second, resolvesTo(ix, &adjoinv1.EntityRef{DnsHostName: "workstation8.theshire.local"}, ws8.GetSid()))

	// pgustavo is renamed: the new name resolves, the old one no longer does.
	putEntity(t, kv, shireUser(sidPgustavo, "gpedro", "Gustavo Pedro"))
	testkit.Eventually(t, 5*time.Second, resolvesTo(ix, &adjoinv1.EntityRef{SamAccountName: `THESHIRE\gpedro`}, sidPgustavo))
	if err := resolvesTo(ix, &adjoinv1.EntityRef{SamAccountName: `THESHIRE\pgustavo`}, "")(); err != nil {
		t.Error(err)
	}

	// WORKSTATION6 is deleted, WEC is purged.
	if err := kv.Delete(ctx, sidWS6); err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, sidWEC); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		for _, key := range []string{sidWS6, sidWEC} {
			if _, ok := ix.Get(key); ok {
				return fmt.Errorf("%s still indexed after delete", key)
			}
		}
		return resolvesTo(ix, &adjoinv1.EntityRef{NetbiosName: "WORKSTATION6"}, "")()
	})
	if got, want := ix.Len(), len(shireEntities())+1-2; got != want { // WORKSTATION8 in, two out
		t.Errorf("Len = %d, want %d", got, want)
	}
}

func TestFollowSkipsUndecodableValue(t *testing.T) {
	t.Parallel()
	ix, kv, logs := followShire(t)
	ctx := context.Background()

	// A truncated protobuf (field 1, length 16, one byte of data) under a new key, and garbage
	// over an existing entity: both are skipped and logged, the existing entity stays.
	badKey := shireDomainSID + "-1300"
	if _, err := kv.Put(ctx, badKey, []byte{0x0a, 0x10, 'x'}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, sidSbeavers, []byte{0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	// The watch goes on: a later valid update still arrives.
	putEntity(t, kv, shireComputer(shireDomainSID+"-1115", "WORKSTATION9"))
	testkit.Eventually(t, 5*time.Second, resolvesTo(ix, &adjoinv1.EntityRef{NetbiosName: "WORKSTATION9"}, shireDomainSID+"-1115"))
	testkit.Eventually(t, 5*time.Second, func() error {
		if n := logs.FilterMessage("skipping undecodable directory entry").Len(); n != 2 {
			return fmt.Errorf("%d undecodable entries logged, want 2", n)
		}
		return nil
	})
	if _, ok := ix.Get(badKey); ok {
		t.Errorf("undecodable entry %s was indexed", badKey)
	}
	if err := resolvesTo(ix, &adjoinv1.EntityRef{SamAccountName: `THESHIRE\sbeavers`}, sidSbeavers)(); err != nil {
		t.Errorf("entity overwritten by garbage: %v", err)
	}
	entries := logs.FilterMessage("skipping undecodable directory entry").All()
	if got := entries[0].ContextMap()["entity"]; got != badKey {
		t.Errorf("log names entity %v, want %s", got, badKey)
	}
}
