package directory

import (
	"math/rand/v2"
	"testing"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// BenchmarkLoad applies 200k synthetic entries already fetched, as the watch hands them over,
// one by one on one goroutine (one_stage; one_stage_counting with a read of the index after
// each, which settles its queue of names) and through the loader's two stages (two_stages):
// the index's share of a start, without the server's and nats.go's. On an idle machine
// two_stages takes less wall time for as much CPU; on a busy one the wall time says little.
func BenchmarkLoad(b *testing.B) {
	const n = 200_000
	r := rand.New(rand.NewPCG(5, 5))
	entries := make([]putEntry, n)
	for i := range n {
		e := synthEntity(r, i)
		v, err := proto.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		entries[i] = putEntry{key: entity.Key(e), value: v}
	}
	log := zap.NewNop()
	for _, tc := range []struct {
		name string
		load func(ix *Index)
	}{
		{"one_stage", func(ix *Index) {
			for _, e := range entries {
				ix.apply(e, log)
			}
		}},
		{"one_stage_counting", func(ix *Index) { // as dcingest's gauges read the index on every change
			for _, e := range entries {
				ix.apply(e, log)
				ix.CountKind(adjoinv1.EntityKind_ENTITY_KIND_USER)
			}
		}},
		{"two_stages", func(ix *Index) {
			l := startLoader(ix, log)
			for _, e := range entries {
				l.apply(e)
			}
			l.finish()
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var wall, cpu time.Duration
			for b.Loop() {
				ix := NewIndex()
				ix.grow(n)
				start, startCPU := time.Now(), cpuTime()
				ix.beginBulk()
				tc.load(ix)
				ix.endBulk()
				wall, cpu = wall+time.Since(start), cpu+cpuTime()-startCPU
				if ix.Len() != n {
					b.Fatalf("Len = %d, want %d", ix.Len(), n)
				}
			}
			b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N*n), "ns/entity")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpuns/entity")
		})
	}
}
