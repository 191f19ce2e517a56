package counts

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// BenchmarkLedgerEntity holds 200,000 entities of one alert each, as the owners of make bench's
// 1M-user run do (a SID key, one detector alert): B/entity is the heap the ledger holds per
// entity. With ADJOIN_HEAP_PROFILE set, the heap profile of the ledger is written there.
func BenchmarkLedgerEntity(b *testing.B) {
	const n = 200_000
	msgs := make([]*adjoinv1.CorrelatedAlert, n)
	at := timestamppb.New(epoch)
	for i := range msgs {
		key := fmt.Sprintf("S-1-5-21-1004336348-1177238915-682003330-%d", 1000+i)
		msgs[i] = counted(key, &adjoinv1.Alert{Id: fmt.Sprintf("mde-da%016x", i), Side: adjoinv1.Side(1 + i%2), Version: 1,
			Severity: high, Status: newS, FirstActivity: at, LastActivity: at}, key)
	}
	var held float64
	for b.Loop() {
		l := NewLedger()
		for _, c := range msgs {
			l.Fold(c)
		}
		if path := os.Getenv("ADJOIN_HEAP_PROFILE"); path != "" {
			writeHeap(b, path)
		}
		held = heapOf(l)
	}
	b.ReportMetric(held/n, "B/entity")
}

func writeHeap(b *testing.B, path string) {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // a profile
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}
