package gcx

import (
	"context"
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
	if _, set := os.LookupEnv("GOGC"); set {
		t.Skip("GOGC is set: BoundHeadroom leaves it alone")
	}
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
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
