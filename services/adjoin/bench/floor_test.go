package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// testServer starts the bench's embedded server, provisioned, for one test of at most a minute.
func testServer(t *testing.T) (context.Context, *jsServer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	srv, err := startServer(ctx, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	return ctx, srv
}

// The floor phase pushes every alert through its three streams and the bucket on a real
// server, reports its ratio to the raw figure it is given, and leaves nothing behind.
func TestFloorPushesEveryAlertThrough(t *testing.T) {
	ctx, srv := testServer(t)
	res, err := measureFloor(ctx, srv.js, 1500, RawResult{RoundTripPerSec: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 1500 || res.AlertsPerSec <= 0 || res.Ratio != res.AlertsPerSec/1000 {
		t.Errorf("result %+v: want 1500 messages, a rate, and the rate over raw's 1000/s", res)
	}
	for _, s := range []string{floorAlerts, floorCounts, floorCorrelated} {
		if _, err := srv.js.Stream(ctx, s); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("stream %s left behind: %v", s, err)
		}
	}
	if _, err := srv.js.KeyValue(ctx, floorBucket); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("bucket %s left behind: %v", floorBucket, err)
	}
}
