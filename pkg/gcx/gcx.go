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
// adjoin-correlator bounds it only while its directory loads (BoundWhileLoading): its heap at
// work also holds the partitions' ledgers, which have pointers, and with 32 MB of headroom it
// counted 7,507 alerts/s at 1M users against 8,612 with GOGC=100 (default sync, 50,000
// alerts, one run each). During the load, the bound took its peak resident memory at 1M users
// from 547-558 MiB to 410-418 MiB, its time to ready unchanged (three alternated runs each).
package gcx

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// DefaultHeadroom is how much the heap may grow between collections: a few seconds of a busy
// service's garbage. A collection of adjoin-badge at 1M users marks for about 10 ms, and
// GetBadge calls that fall inside one wait: with 32 MB, at 40,000 calls a second, that was
// about four collections a second. Six alternated runs each way, p99 over the minimal gRPC
// server's at concurrency 16 and 64: median 1.17 and 1.15 with 32 MB, 0.88 and 1.03 with 128
// MB faulted in once after the load (Prefault); QPS at 64: 0.87 and 0.91 (docs/performance.md).
// Without the prefault a larger headroom cost more than it saved: 64 MB page-faulted under
// GetBadge (3.5k faults in 10 s) and ran at 0.72-0.85 of the minimal server at concurrency 1.
const DefaultHeadroom = 128 << 20

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
	bound(ctx, loaded, during, headroom, every)
}

// BoundWhileLoading bounds the headroom as BoundHeadroom does until loaded is closed, then
// gives the collector back the runtime's default (GOGC=100). For a service whose heap at work
// has pointers to mark (the correlator's ledgers), so a bounded headroom would cost it more
// collections than it saves in pages, but whose start is a load that allocates several times
// what it keeps.
func BoundWhileLoading(ctx context.Context, loaded <-chan struct{}, headroom uint64, every time.Duration) {
	bound(ctx, loaded, headroom, 0, every)
}

// bound keeps the headroom at during until loaded is closed, then at after (0: the runtime's
// default, no longer followed), every period until ctx ends. Nothing with GOGC set.
func bound(ctx context.Context, loaded <-chan struct{}, during, after uint64, every time.Duration) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	current := during
	adjust := func() uint64 {
		live := LiveHeap()
		p := Percent(live, max(current, ScanHeap()))
		debug.SetGCPercent(p)
		return live * uint64(p) / 100
	}
	adjust()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-loaded:
				if after == 0 {
					debug.SetGCPercent(100)
					return
				}
				loaded, current = nil, after
				debug.FreeOSMemory()
				Prefault(adjust())
			case <-t.C:
				adjust()
			}
		}
	}()
}

// prefaultChunk is the size of the allocations Prefault makes: large objects (over 32 KB), so
// each takes its own run of pages, lowest addresses first, as the heap's next spans will.
const prefaultChunk = 64 << 10

// Prefault touches n bytes of heap and lets them go, so that the memory the heap grows into
// until its next collection is resident before requests need it: right after
// debug.FreeOSMemory every page of that headroom would otherwise be faulted in (and cleared
// by the kernel) under the first requests, on a VM a visible share of their time. The pages
// stay with the process afterwards: the runtime keeps free pages up to a tenth past its heap
// goal, and the headroom is within it. It is memory the service uses under load in any case;
// it is now counted from the start.
func Prefault(n uint64) {
	const page = 4096
	held := make([][]byte, 0, n/prefaultChunk)
	for range n / prefaultChunk {
		b := make([]byte, prefaultChunk)
		for i := 0; i < len(b); i += page {
			b[i] = 1
		}
		held = append(held, b)
	}
	runtime.KeepAlive(held)
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
