package heartbeat

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit"
)

// TestStaleRowsExpire: rows of instances that stopped cleanly over StoppedExpiry ago, or went
// silent over SilentExpiry ago, leave the status page, and a new instance of a service deletes
// its service's expired rows from the bucket (they used to stay forever); other services' rows
// and recent ones stay.
func TestStaleRowsExpire(t *testing.T) {
	s := natstest.Start(t)
	ctx := context.Background()
	kv := s.KV(t, natsx.BucketStatus)
	now := time.Now()
	put := func(service, instance string, stopped bool, age time.Duration) {
		hb := &adjoinv1.ServiceHeartbeat{Service: service, Instance: instance, Stopped: stopped, LastSeen: timestamppb.New(now.Add(-age))}
		data, err := proto.Marshal(hb)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, KeyPrefix+service+"."+natsx.KeyToken(instance), data); err != nil {
			t.Fatal(err)
		}
	}
	put("badge", "old-stopped", true, StoppedExpiry+time.Minute)
	put("badge", "recent-stopped", true, time.Minute)
	put("badge", "old-silent", false, SilentExpiry+time.Minute)
	put("badge", "recent-silent", false, time.Hour)
	put("dcingest", "old-stopped", true, StoppedExpiry+time.Minute)

	all, err := List(ctx, kv)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := instances(Current(all, now)), []string{"badge/recent-silent", "badge/recent-stopped"}; !slices.Equal(got, want) {
		t.Errorf("current rows = %q, want %q", got, want)
	}

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	counters := &Counters{}
	go func() { defer close(done); Run(runCtx, s.JS, "badge", "test", nil, counters, time.Hour, zap.NewNop()) }()
	testkit.Eventually(t, 10*time.Second, func() error {
		all, err := List(ctx, kv)
		if err != nil {
			return err
		}
		got := instances(all)
		want := []string{"badge/" + Instance(), "badge/recent-silent", "badge/recent-stopped", "dcingest/old-stopped"}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("rows in the bucket = %q, want %q", got, want)
		}
		return nil
	})
	// Counted after the first beat: the "stopped" beat carries them.
	counters.Add("sensor.packets", 5)
	counters.Add("sensor.packets", 2)
	counters.Add("sensor.kernel_drops", 1)
	cancel()
	<-done
	e, err := kv.Get(ctx, KeyPrefix+"badge."+natsx.KeyToken(Instance()))
	if err != nil {
		t.Fatal(err)
	}
	var hb adjoinv1.ServiceHeartbeat
	if err := proto.Unmarshal(e.Value(), &hb); err != nil {
		t.Fatal(err)
	}
	if got, want := counterText(hb.GetCounters()), "sensor.kernel_drops=1 sensor.packets=7"; !hb.GetStopped() || got != want {
		t.Errorf("last beat stopped=%v counters %q, want stopped with %q", hb.GetStopped(), got, want)
	}
}

// TestCountersBounded checks that a heartbeat's counters stay small whatever is counted.
func TestCountersBounded(t *testing.T) {
	var c Counters
	for i := range MaxCounters + 10 {
		c.Add(fmt.Sprintf("c%02d", i), uint64(i))
	}
	c.Add("c00", 3)
	got := c.Snapshot()
	if len(got) != MaxCounters {
		t.Fatalf("%d counters kept, want %d", len(got), MaxCounters)
	}
	if got[0].GetName() != "c00" || got[0].GetValue() != 3 {
		t.Errorf("first counter %v, want c00=3", got[0])
	}
	var none *Counters
	none.Add("x", 1)
	if none.Snapshot() != nil {
		t.Error("a nil *Counters kept a count")
	}
	var long Counters // "é" is 2 bytes: a name of them is cut at a character boundary
	long.Add("a"+strings.Repeat("é", MaxCounterName), 1)
	if name := long.Snapshot()[0].GetName(); len(name) != MaxCounterName-1 || !utf8.ValidString(name) {
		t.Errorf("long name cut to %d bytes (valid UTF-8: %v), want %d", len(name), utf8.ValidString(name), MaxCounterName-1)
	}
}

func counterText(cs []*adjoinv1.HeartbeatCounter) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s=%d", c.GetName(), c.GetValue()))
	}
	return strings.Join(parts, " ")
}

func instances(hbs []*adjoinv1.ServiceHeartbeat) []string {
	var out []string
	for _, hb := range hbs {
		out = append(out, hb.GetService()+"/"+hb.GetInstance())
	}
	slices.Sort(out)
	return out
}
