package natsx_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

func TestPartitionIsFNV32aModN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string
		n    int
		want int
	}{
		// fnv32a("") = 0x811c9dc5 = 2166136261; fnv32a("a") = 0xe40c292c = 3826002220.
		{key: "", n: 8, want: 2166136261 % 8},
		{key: "a", n: 8, want: 3826002220 % 8},
		{key: "a", n: 7, want: 3826002220 % 7},
		{key: "a", n: 1, want: 0},
		{key: "a", n: 0, want: 0},
		{key: "a", n: -3, want: 0},
	}
	for _, tt := range tests {
		if got := natsx.Partition(tt.key, tt.n); got != tt.want {
			t.Errorf("Partition(%q, %d) = %d, want %d", tt.key, tt.n, got, tt.want)
		}
	}
	// Keys spread over every partition.
	seen := map[int]int{}
	for i := range 1000 {
		p := natsx.Partition(fmt.Sprintf("S-1-5-21-1-2-3-%d", 1000+i), natsx.DefaultPartitions)
		if p < 0 || p >= natsx.DefaultPartitions {
			t.Fatalf("partition %d out of [0,%d)", p, natsx.DefaultPartitions)
		}
		seen[p]++
	}
	for p := range natsx.DefaultPartitions {
		if seen[p] < 60 {
			t.Errorf("partition %d got %d of 1000 keys", p, seen[p])
		}
	}
}

func TestCountsSubject(t *testing.T) {
	t.Parallel()
	if got := natsx.CountsSubject(3, true, "7d5f0c4e-1b2a-4c3d-9e8f-0a1b2c3d4e5f"); got != "counts.3.computer.7d5f0c4e-1b2a-4c3d-9e8f-0a1b2c3d4e5f" {
		t.Errorf("computer subject = %q", got)
	}
	if got := natsx.CountsSubject(0, false, "S-1-5-21-1-2-3-1001"); got != "counts.0.user.S-1-5-21-1-2-3-1001" {
		t.Errorf("user subject = %q", got)
	}
	// A key from input is one bounded token, at the bound too.
	long := natsx.CountsSubject(7, false, "a.b *>"+strings.Repeat("x", 5000))
	tokens := strings.Split(long, ".")
	if len(tokens) != 4 || tokens[0] != "counts" || tokens[1] != "7" || tokens[2] != "user" {
		t.Fatalf("subject %q is not counts.7.user.<one token>", long)
	}
	if len(tokens[3]) > natsx.MaxToken+33 || strings.ContainsAny(tokens[3], " *>") {
		t.Errorf("key token %q not bounded or not safe", tokens[3])
	}
	if got := natsx.CountsFilter(5); got != "counts.5.>" {
		t.Errorf("CountsFilter(5) = %q", got)
	}
}

// COUNTS and adjoin_counter are provisioned, checked, and a counts subject lands in COUNTS.
func TestCountsTopology(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := testCtx(t)
	top := natsx.NewTopology(1)
	var counts *jetstream.StreamConfig
	for i := range top.Streams {
		if top.Streams[i].Name == natsx.StreamCounts {
			counts = &top.Streams[i]
		}
	}
	if counts == nil || len(counts.Subjects) != 1 || counts.Subjects[0] != "counts.>" ||
		counts.MaxAge != 7*24*time.Hour || counts.Retention != jetstream.LimitsPolicy || counts.Duplicates <= 0 {
		t.Fatalf("COUNTS config = %+v", counts)
	}
	subject := natsx.CountsSubject(natsx.Partition("k1", natsx.DefaultPartitions), false, "k1")
	if _, err := natsx.Publish(ctx, srv.JS, subject, "c1", &adjoinv1.CorrelatedAlert{EntityKey: "k1"}); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, srv.JS, natsx.StreamCounts); n != 1 {
		t.Errorf("COUNTS holds %d messages, want 1", n)
	}

	obs, err := srv.JS.ObjectStore(ctx, natsx.BucketCounter)
	if err != nil {
		t.Fatalf("adjoin_counter after Provision: %v", err)
	}
	if _, err := obs.PutBytes(ctx, "p0", []byte("snapshot")); err != nil {
		t.Fatal(err)
	}
	if err := natsx.Provision(ctx, srv.JS, top); err != nil {
		t.Fatalf("Provision again: %v", err)
	}
	if b, err := obs.GetBytes(ctx, "p0"); err != nil || string(b) != "snapshot" {
		t.Errorf("object p0 after Provision = %q, %v", b, err)
	}
	if missing, err := natsx.Missing(ctx, srv.JS, top); err != nil || len(missing) != 0 {
		t.Errorf("Missing = %q, %v", missing, err)
	}

	if err := srv.JS.DeleteObjectStore(ctx, natsx.BucketCounter); err != nil {
		t.Fatal(err)
	}
	err = natsx.Check(ctx, srv.JS, top)
	if !errors.Is(err, jetstream.ErrBucketNotFound) || !strings.Contains(err.Error(), natsx.BucketCounter) {
		t.Errorf("Check with adjoin_counter missing = %v, want ErrBucketNotFound naming it", err)
	}
	if missing, err := natsx.Missing(ctx, srv.JS, top); err != nil || len(missing) != 1 || missing[0] != "object store "+natsx.BucketCounter {
		t.Errorf("Missing = %q, %v, want the object store", missing, err)
	}
	if err := natsx.Ensure(ctx, srv.NC, srv.JS, top, zap.NewNop()); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if err := natsx.Check(ctx, srv.JS, top); err != nil {
		t.Errorf("Check after Ensure: %v", err)
	}
}
