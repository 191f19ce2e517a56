package gcx

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	t.Parallel()
	const mb = 1 << 20
	tests := []struct {
		name           string
		live, headroom uint64
		want           int
	}{
		{"nothing collected yet", 0, 64 * mb, 100},
		{"small heap: the default", 16 * mb, 64 * mb, 100},
		{"heap as large as the headroom", 64 * mb, 64 * mb, 100},
		{"1M-entity index", 256 * mb, 64 * mb, 25},
		{"huge heap: the floor", 4096 * mb, 64 * mb, minPercent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Percent(tt.live, tt.headroom); got != tt.want {
				t.Errorf("Percent(%d, %d) = %d, want %d", tt.live, tt.headroom, got, tt.want)
			}
		})
	}
}

// TestBoundHeadroom holds a live heap of 64 MB and asks for 16 MB of headroom: the GC percent
// becomes about 25, unless GOGC is set.
func TestBoundHeadroom(t *testing.T) {
	defaultGC(t)
	live := make([]byte, 64<<20)
	runtime.GC()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	BoundHeadroom(ctx, 16<<20, time.Hour)
	got := debug.SetGCPercent(100)
	runtime.KeepAlive(live)
	if got < minPercent || got > 30 {
		t.Errorf("GC percent %d with 64 MB live and 16 MB of headroom, want about 25", got)
	}
}

// TestBoundHeadroomFollowsTheScannableHeap: 64 MB without pointers and 40 MB of pointers live,
// 16 MB of headroom asked: the headroom becomes the 40 MB a collection must scan, a GC percent
// of about 40 over 104 MB, not the 15 the asked headroom alone would give.
func TestBoundHeadroomFollowsTheScannableHeap(t *testing.T) {
	defaultGC(t)
	noscan := make([]byte, 64<<20)
	x := 1
	scan := make([]*int, 5<<20) // 40 MB of pointer slots
	for i := range scan {
		scan[i] = &x
	}
	runtime.GC()
	if s := ScanHeap(); s < 38<<20 {
		t.Fatalf("ScanHeap() = %d MB, want at least the 40 MB of pointers", s>>20)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	BoundHeadroom(ctx, 16<<20, time.Hour)
	got := debug.SetGCPercent(100)
	runtime.KeepAlive(noscan)
	runtime.KeepAlive(scan)
	if got < 32 || got > 50 {
		t.Errorf("GC percent %d with 104 MB live, 40 MB of it scannable, and 16 MB of headroom asked, want about 40", got)
	}
}

// TestBoundAroundTheLoad: with 64 MB live, the GC percent while loading and once loaded is
// closed: 64 MB of headroom then 16 MB (BoundHeadroomAfter), 16 MB then the runtime's default
// (BoundWhileLoading).
func TestBoundAroundTheLoad(t *testing.T) {
	tests := []struct {
		name          string
		start         func(ctx context.Context, loaded <-chan struct{})
		during, after [2]int // the GC percent's range
	}{
		{"64 MB while loading, 16 MB after", func(ctx context.Context, loaded <-chan struct{}) {
			BoundHeadroomAfter(ctx, loaded, 64<<20, 16<<20, 10*time.Millisecond)
		}, [2]int{80, 100}, [2]int{minPercent, 30}},
		{"16 MB while loading, the default after", func(ctx context.Context, loaded <-chan struct{}) {
			BoundWhileLoading(ctx, loaded, 16<<20, 10*time.Millisecond)
		}, [2]int{minPercent, 30}, [2]int{100, 100}},
	}
	for _, tt := range tests { // not parallel: the GC percent is the process's
		t.Run(tt.name, func(t *testing.T) {
			defaultGC(t)
			live := make([]byte, 64<<20)
			runtime.GC()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			loaded := make(chan struct{})
			tt.start(ctx, loaded)
			waitPercent(t, tt.during, "while loading")
			close(loaded)
			waitPercent(t, tt.after, "after the load")
			runtime.KeepAlive(live)
		})
	}
}

// waitPercent waits up to 10 s for the GC percent to be within want, setting 50 (outside
// every range the tests await) each time it looks, so that a change made since shows.
func waitPercent(t *testing.T, want [2]int, when string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := debug.SetGCPercent(50)
		if got >= want[0] && got <= want[1] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GC percent %d %s, want %d to %d", got, when, want[0], want[1])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// defaultGC skips the test when GOGC is set (BoundHeadroom leaves it alone), and otherwise
// starts it at GOGC=100 and puts the GC percent back after it.
func defaultGC(t *testing.T) {
	t.Helper()
	if _, set := os.LookupEnv("GOGC"); set {
		t.Skip("GOGC is set: BoundHeadroom leaves it alone")
	}
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
}

// TestPrefault: after debug.FreeOSMemory, Prefault(48 MB) under a heap whose goal has room for
// it leaves the process about 48 MB more resident, even once a collection has freed what it
// touched: the pages the heap grows into next are already there.
func TestPrefault(t *testing.T) {
	defaultGC(t)
	live := make([]byte, 64<<20) // a goal of about 128 MB at GOGC=100
	for i := range live {
		live[i] = 1
	}
	runtime.GC()
	debug.FreeOSMemory()
	before := resident(t)
	Prefault(48 << 20)
	runtime.GC()
	after := resident(t)
	runtime.KeepAlive(live)
	if grew := after - before; grew < 40<<20 {
		t.Errorf("resident memory grew by %d MB after Prefault(48 MB) and a collection, want at least 40", grew>>20)
	}
}

// resident is the process's resident memory in bytes (/proc/self/statm).
func resident(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	var size, rss int64
	if _, err := fmt.Sscan(string(b), &size, &rss); err != nil {
		t.Fatalf("statm %q: %v", b, err)
	}
	return rss * int64(os.Getpagesize())
}
