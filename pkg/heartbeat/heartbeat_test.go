package heartbeat

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

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
	go func() { defer close(done); Run(runCtx, s.JS, "badge", "test", nil, time.Hour, zap.NewNop()) }()
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
	cancel()
	<-done
}

func instances(hbs []*adjoinv1.ServiceHeartbeat) []string {
	var out []string
	for _, hb := range hbs {
		out = append(out, hb.GetService()+"/"+hb.GetInstance())
	}
	slices.Sort(out)
	return out
}
