package directory

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// BenchmarkIndexMemory loads n synthetic directory entries from their bucket bytes and reports
// the live heap the index holds per entity (after GC) and the load time per entity. The
// services' resident memory per entity follows the heap per entity plus GC headroom.
func BenchmarkIndexMemory(b *testing.B) {
	for _, n := range []int{200_000, 1_000_000} {
		b.Run(fmtCount(n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, uint64(n)))
			keys := make([]string, n)
			values := make([][]byte, n)
			for i := range n {
				e := synthEntity(r, i)
				keys[i] = entity.Key(e)
				v, err := proto.Marshal(e)
				if err != nil {
					b.Fatal(err)
				}
				values[i] = v
			}
			var ix *Index
			for b.Loop() {
				ix = nil
				before := heapInUse()
				start, cpu := time.Now(), cpuTime()
				ix = NewIndex()
				ix.grow(n)
				ix.beginBulk()
				for i := range n {
					if err := ix.putBytes(values[i]); err != nil {
						b.Fatal(err)
					}
				}
				ix.endBulk()
				load, loadCPU := time.Since(start), cpuTime()-cpu
				after := heapInUse()
				b.ReportMetric(float64(after-before)/float64(n), "heapB/entity")
				b.ReportMetric(float64(load.Nanoseconds())/float64(n), "loadns/entity")
				b.ReportMetric(float64(loadCPU.Nanoseconds())/float64(n), "loadcpuns/entity")
			}
			if ix.Len() != n {
				b.Fatalf("Len = %d, want %d", ix.Len(), n)
			}
			runtime.KeepAlive(values)
		})
	}
}

// cpuTime is the CPU time the process has used: on a shared machine the load's wall time says
// more about the neighbours than about the index.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func fmtCount(n int) string {
	if n%1_000_000 == 0 {
		return itoa(n/1_000_000) + "M"
	}
	return itoa(n/1_000) + "k"
}

func itoa(n int) string { return strconv.Itoa(n) }

// BenchmarkResolve measures one resolution by SID, then by DOMAIN\sam, against a loaded index.
func BenchmarkResolve(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	ix := NewIndex()
	var ents []*adjoinv1.Entity
	for i := range 10_000 {
		e := synthEntity(r, i)
		ix.Put(e)
		ents = append(ents, e)
	}
	b.Run("sid", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e := ents[i%len(ents)]
			i++
			if m := ix.Resolve(&adjoinv1.EntityRef{Sid: e.GetSid()}); m.Entity == nil {
				b.Fatal("no match")
			}
		}
	})
	b.Run("domain_sam", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e := ents[i%len(ents)]
			i++
			if m := ix.Resolve(&adjoinv1.EntityRef{SamAccountName: e.GetSamAccountName(), Domain: "CORP"}); m.Entity == nil {
				b.Fatal("no match")
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e := ents[i%len(ents)]
			i++
			if _, ok := ix.Get(e.GetObjectGuid()); !ok {
				b.Fatal("no match")
			}
		}
	})
}

// BenchmarkPutBytes loads 200k synthetic entries per iteration into an index sized for them:
// the work of a service's start, per entity.
func BenchmarkPutBytes(b *testing.B) {
	const n = 200_000
	r := rand.New(rand.NewPCG(3, 3))
	values := make([][]byte, n)
	for i := range n {
		values[i], _ = proto.Marshal(synthEntity(r, i))
	}
	b.ResetTimer()
	for b.Loop() {
		ix := NewIndex()
		ix.grow(n)
		ix.beginBulk()
		for _, v := range values {
			if err := ix.putBytes(v); err != nil {
				b.Fatal(err)
			}
		}
		ix.endBulk()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entity")
}
