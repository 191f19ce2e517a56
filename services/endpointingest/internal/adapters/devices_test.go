package adapters

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// The last-written memory stays at most maxWritten keys whatever number of hosts the input
// names: at the limit it is forgotten, and the host that found it full is still recorded and
// remembered.
func TestSeenWrittenBounded(t *testing.T) {
	t.Parallel()
	d := newDevices(t)
	d.Every = time.Hour
	d.written = make(map[string]time.Time, maxWritten)
	for i := range maxWritten {
		d.written[fmt.Sprintf("name.host%d", i)] = time.Unix(0, 0)
	}
	seen := time.Date(2020, 10, 18, 0, 0, 0, 0, time.UTC)
	ev := &adjoinv1.Event{Host: "WORKSTATION6.theshire.local", Time: timestamppb.New(seen)}
	if err := d.Seen(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if n := len(d.written); n != 1 {
		t.Errorf("last-written memory holds %d keys after the limit, want 1 (the host just written)", n)
	}
	if got := stored(t, d, sidWS6).GetLastSeen().AsTime(); !got.Equal(seen) {
		t.Errorf("last seen %s, want %s", got, seen)
	}
	if last, ok := d.written[sidWS6]; !ok || !last.Equal(seen) {
		t.Errorf("memory of %s: %s %v, want %s", sidWS6, last, ok, seen)
	}
}
