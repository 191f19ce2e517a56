// Package gcx bounds the garbage collector's headroom in services whose live heap is mostly a
// large, long-lived index (the directory: hundreds of MB at a million entities).
//
// With the default GOGC=100 such a service lets its heap grow by as much again as the index
// before collecting: every request's garbage then lands in memory never touched before (a
// page fault and a clear per page, a visible share of a GetBadge at 1M users), and the
// process's resident memory doubles under load. Collecting after a bounded headroom instead
// reuses the same, warm, pages; a cycle costs little since the index holds no pointers, and the
// headroom grows with what does (BoundHeadroom).
//
// adjoin-badge uses it, with a larger headroom while its view loads (BoundHeadroomAfter).
// adjoin-correlator does not: its heap also holds the partitions' ledgers, which have
// pointers, and with 32 MB of headroom it counted 7,507 alerts/s at 1M users against 8,612
// with GOGC=100 (default sync, 50,000 alerts, one run each).
package gcx

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// DefaultHeadroom is how much the heap may grow between collections: a second or two of a busy
// service's garbage. With 64 MB, GetBadge at 1M users still page-faulted (3.5k faults in 10 s,
// against 49 at 10k users) and ran at 0.72-0.85 of a minimal server at concurrency 1; with 32 MB
// at 0.87-1.00 (four alternated runs each, docs/performance.md).
const DefaultHeadroom = 32 << 20

// DefaultLoadHeadroom is the headroom while a service loads its index (BoundHeadroomAfter).
const DefaultLoadHeadroom = 128 << 20

// DefaultEvery is how often the GC percent follows the live heap: often enough that a
// directory loading at start is collected with a bounded headroom as it grows.
const DefaultEvery = time.Second

// minPercent keeps collections from running back to back on a very large heap.
const minPercent = 10

// BoundHeadroom sets the GC percent so that the heap grows about headroom bytes past the live
// heap between collections, or as much as the heap a collection must scan when that is more
// (never more than GOGC=100 would), and keeps it so every period as the heap changes, until
// ctx ends. A GOGC set in the environment is the operator's choice and is left alone.
//
// A collection's work is the scannable heap, not the pointer-free index: with a fixed headroom,
// a service that also holds many records and incidents (pointers) would mark them all every
// headroom bytes. After 100,000 alerts, adjoin-badge's restart at 1M users spent a third of
// its CPU in the GC that way. Growing the headroom with the scannable heap keeps a
// collection's work per byte allocated that of GOGC=100 on an ordinary heap.
func BoundHeadroom(ctx context.Context, headroom uint64, every time.Duration) {
	BoundHeadroomAfter(ctx, nil, headroom, headroom, every)
}

// BoundHeadroomAfter bounds the headroom as BoundHeadroom does, at during until loaded is
// closed, then at headroom, once the memory the load freed is returned to the system
// (debug.FreeOSMemory). A load allocates several times what it keeps (a 384 MiB directory
// snapshot read for a ~220 MB index): with 32 MB of headroom from the start, its collections
// were a fifth of adjoin-badge's CPU to ready at 1M users; with the runtime's default, its
// resident memory peaked at 551 MiB against 317.
func BoundHeadroomAfter(ctx context.Context, loaded <-chan struct{}, during, headroom uint64, every time.Duration) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	current := during
	adjust := func() { debug.SetGCPercent(Percent(LiveHeap(), max(current, ScanHeap()))) }
	adjust()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-loaded:
				loaded, current = nil, headroom
				debug.FreeOSMemory()
				adjust()
			case <-t.C:
				adjust()
			}
		}
	}()
}

// Percent is the GC percent giving headroom bytes over a live heap of live bytes, between
// minPercent and 100 (the default, for small heaps).
func Percent(live, headroom uint64) int {
	if live == 0 {
		return 100
	}
	return int(min(max(headroom*100/live, minPercent), 100))
}

// LiveHeap is the heap the last collection marked live, in bytes.
func LiveHeap() uint64 { return readBytes("/gc/heap/live:bytes") }

// ScanHeap is the heap a collection scans for pointers, in bytes: the live heap less the
// objects that hold none (the directory index's arrays).
func ScanHeap() uint64 { return readBytes("/gc/scan/heap:bytes") }

// readBytes reads one runtime metric in bytes; 0 when the runtime does not have it.
func readBytes(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
