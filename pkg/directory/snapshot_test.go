package directory

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/entity"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit"
)

// snapshotRig is a server with a directory bucket of synthetic entities, some rewritten and
// some deleted, and its snapshot store.
type snapshotRig struct {
	srv   *natstest.Server
	kv    jetstream.KeyValue
	store jetstream.ObjectStore
	r     *rand.Rand
}

func newSnapshotRig(t *testing.T, entities int) *snapshotRig {
	t.Helper()
	srv := natstest.Start(t)
	store, err := srv.JS.ObjectStore(context.Background(), natsx.BucketDirectorySnapshot)
	if err != nil {
		t.Fatal(err)
	}
	g := &snapshotRig{srv: srv, kv: srv.KV(t, natsx.BucketDirectory), store: store, r: rand.New(rand.NewPCG(17, 18))}
	g.change(t, 0, entities)
	return g
}

// change puts entities from..to-1, then rewrites a tenth of them, deletes a twentieth and
// purges one.
func (g *snapshotRig) change(t *testing.T, from, to int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i < to; i++ {
		putEntity(t, g.kv, synthEntity(g.r, i))
	}
	for range (to - from) / 10 {
		e := synthEntity(g.r, from+g.r.IntN(to-from))
		e.DisplayName += " (renamed)"
		putEntity(t, g.kv, e)
	}
	for range (to - from) / 20 {
		if err := g.kv.Delete(ctx, entity.Key(synthEntity(g.r, from+g.r.IntN(to-from)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.kv.Purge(ctx, entity.Key(synthEntity(g.r, from))); err != nil {
		t.Fatal(err)
	}
}

// follow loads the bucket into a new index, from the snapshot store when withSnapshots, and
// returns it with its log.
func (g *snapshotRig) follow(t *testing.T, withSnapshots bool) (*Index, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ix := NewIndex()
	if withSnapshots {
		ix.Snapshots = g.store
	}
	if err := ix.Follow(ctx, g.kv, zap.New(core)); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	return ix, logs
}

func (g *snapshotRig) write(t *testing.T) SnapshotInfo {
	t.Helper()
	info, err := WriteSnapshot(context.Background(), g.kv, g.store)
	if err != nil {
		t.Fatalf("WriteSnapshot: %v", err)
	}
	return info
}

// sameIndex fails unless a and b hold the same entities, entity by entity, and resolve each
// one's names alike.
func sameIndex(t *testing.T, a, b *Index) {
	t.Helper()
	ka, kb := a.Keys(), b.Keys()
	slices.Sort(ka)
	slices.Sort(kb)
	if !slices.Equal(ka, kb) {
		t.Fatalf("keys differ: %d against %d", len(ka), len(kb))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range ka {
		ea, _ := a.Get(k)
		eb, _ := b.Get(k)
		if !proto.Equal(ea, eb) {
			t.Fatalf("entity %s differs:\n%v\n%v", k, ea, eb)
		}
		for _, ref := range refsOf(r, ea) {
			if ma, mb := a.Resolve(ref), b.Resolve(ref); !sameMatch(ma, mb) {
				t.Fatalf("Resolve(%v) = %v, full load %v", ref, ma, mb)
			}
		}
	}
}

func logged(logs *observer.ObservedLogs, msg string) string {
	for _, e := range logs.All() {
		if e.Message == msg {
			var b strings.Builder
			for _, f := range e.Context {
				b.WriteString(f.Key + "=" + f.String + " ")
				if f.Interface != nil {
					if err, ok := f.Interface.(error); ok {
						b.WriteString(err.Error())
					}
				}
			}
			return msg + ": " + b.String()
		}
	}
	return ""
}

// TestSnapshotThenFollowEqualsFullLoad loads a snapshot, then the changes after it (new
// entities, rewrites, deletes, a purge), and gets what a full load of the bucket gets, entity
// by entity; a change after the load still arrives.
//
// Not parallel: it cuts the snapshot into parts of 64 KiB, so that it is read from several.
func TestSnapshotThenFollowEqualsFullLoad(t *testing.T) {
	defer func(size int) { snapshotPartSize = size }(snapshotPartSize)
	snapshotPartSize = 64 << 10
	g := newSnapshotRig(t, 3000)
	g.write(t)
	info := g.write(t) // the second replaces the first, whose parts go
	if info.Entries < 2800 || info.Seq == 0 {
		t.Fatalf("snapshot %+v: want about 3,000 entries at a sequence", info)
	}
	m, err := readManifest(context.Background(), g.store)
	if err != nil || len(m.parts) < 4 || m.size != info.Bytes {
		t.Fatalf("manifest %+v, %v: want the snapshot's %d bytes in several parts", m, err, info.Bytes)
	}
	var objects []string
	lister, err := g.store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range lister {
		objects = append(objects, o.Name)
	}
	if len(objects) != len(m.parts)+1 {
		t.Fatalf("objects %v: want the manifest and its %d parts only", objects, len(m.parts))
	}
	g.change(t, 2500, 3500) // rewrites entities of the snapshot and adds others
	snap, logs := g.follow(t, true)
	if logged(logs, "directory snapshot loaded") == "" {
		t.Fatalf("the snapshot was not used; log: %v", logs.All())
	}
	full, _ := g.follow(t, false)
	sameIndex(t, snap, full)

	e := synthEntity(g.r, 9999)
	putEntity(t, g.kv, e)
	testkit.Eventually(t, 10*time.Second, func() error {
		if _, ok := snap.Get(entity.Key(e)); !ok {
			return fmt.Errorf("entity %s put after the load is not in the index", entity.Key(e))
		}
		return nil
	})
}

// TestSnapshotStaleIsDiscarded purges the bucket's stream after a snapshot: deletes are gone
// with it, so the snapshot is not used and the full load is.
func TestSnapshotStaleIsDiscarded(t *testing.T) {
	t.Parallel()
	g := newSnapshotRig(t, 500)
	g.write(t)
	s, err := g.srv.JS.Stream(context.Background(), "KV_"+natsx.BucketDirectory)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(context.Background()); err != nil {
		t.Fatal(err)
	}
	empty, logs := g.follow(t, true)
	if n := empty.Len(); n != 0 || !strings.Contains(logged(logs, "directory snapshot not used; loading the bucket in full"), "purged since") {
		t.Fatalf("%d entities in the purged bucket from the stale snapshot; log: %v", n, logs.All())
	}
	g.change(t, 1000, 1100)
	snap, logs := g.follow(t, true)
	if msg := logged(logs, "directory snapshot not used; loading the bucket in full"); !strings.Contains(msg, "purged since") {
		t.Fatalf("want the stale snapshot refused as purged; log: %q", msg)
	}
	full, _ := g.follow(t, false)
	sameIndex(t, snap, full)
	if n := snap.Len(); n > 100 {
		t.Fatalf("%d entities after the purge and 100 puts: the stale snapshot's entities were kept", n)
	}
}

// TestSnapshotCorruptIsRefused damages a snapshot in four ways (a flipped byte, a cut, an
// unknown format, an unknown manifest): each is refused with a log saying why, and the index is the full load's.
func TestSnapshotCorruptIsRefused(t *testing.T) {
	t.Parallel()
	g := newSnapshotRig(t, 500)
	g.write(t)
	ctx := context.Background()
	m, err := readManifest(ctx, g.store)
	if err != nil {
		t.Fatal(err)
	}
	good, err := io.ReadAll(&partsReader{ctx: ctx, store: g.store, parts: m.parts})
	if err != nil {
		t.Fatal(err)
	}
	full, _ := g.follow(t, false)
	for _, tc := range []struct {
		name, why string
		damage    func([]byte) []byte
	}{
		{"flipped byte", "", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }},
		{"cut", "unexpected EOF", func(b []byte) []byte { return b[:len(b)*2/3] }},
		{"unknown format", "unknown format", func(b []byte) []byte { b[7] = '9'; return b }},
		{"unknown manifest", "unknown manifest format", nil},
	} {
		if tc.damage == nil {
			if _, err := g.store.PutString(ctx, snapshotObject, "ADJDIRM9\n"); err != nil {
				t.Fatal(err)
			}
		} else {
			pw := newPartWriter(ctx, g.store)
			if _, err := pw.Write(tc.damage(slices.Clone(good))); err != nil {
				t.Fatal(err)
			}
			if err := pw.commit(); err != nil {
				t.Fatal(err)
			}
		}
		snap, logs := g.follow(t, true)
		msg := logged(logs, "directory snapshot not used; loading the bucket in full")
		if msg == "" || !strings.Contains(msg, tc.why) {
			t.Fatalf("%s: want a refusal saying %q; log: %q", tc.name, tc.why, msg)
		}
		sameIndex(t, snap, full)
	}
}

// TestSnapshotKeeperClaims runs two keepers: the one holding the claim writes, the other
// stands by while the claim is fresh; a snapshot is rewritten once it is Changes behind.
func TestSnapshotKeeperClaims(t *testing.T) {
	t.Parallel()
	g := newSnapshotRig(t, 200)
	status := g.srv.KV(t, natsx.BucketStatus)
	writes := map[string]int{}
	keeper := func(holder string) *SnapshotKeeper {
		return &SnapshotKeeper{Bucket: g.kv, Store: g.store, Claims: status, Claim: "snapshot.directory", Holder: holder,
			Log: zap.NewNop(), Every: time.Hour, MinEntries: 100, Changes: 50, MaxAge: time.Hour,
			OnWrite: func(SnapshotInfo) { writes[holder]++ }}
	}
	a, b := keeper("a"), keeper("b")
	ctx := context.Background()
	for _, k := range []*SnapshotKeeper{a, b, a} {
		if err := k.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if writes["a"] != 1 || writes["b"] != 0 {
		t.Fatalf("writes %v, want a once (none since: nothing changed), b never", writes)
	}
	g.change(t, 200, 300)
	for _, k := range []*SnapshotKeeper{b, a} {
		if err := k.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if writes["a"] != 2 || writes["b"] != 0 {
		t.Fatalf("writes %v after 100 changes, want a twice, b never (a holds the claim)", writes)
	}
}
