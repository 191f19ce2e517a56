package counts

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// BenchmarkLedgerFold folds 100,000 distinct alerts per op, all on one entity or spread over
// 10,000 or 100,000, into a new ledger: ns/alert must not depend on how many alerts the entity
// holds. B/alert is the heap the ledger holds after the op, per alert (with one alert per entity,
// the cost of an entity).
func BenchmarkLedgerFold(b *testing.B) {
	const n = 100_000
	for _, bc := range []struct {
		name     string
		entities int
	}{{"one-entity", 1}, {"10k-entities", 10_000}, {"100k-entities", 100_000}} {
		b.Run(bc.name, func(b *testing.B) {
			msgs := make([]*adjoinv1.CorrelatedAlert, n)
			for i := range msgs {
				key := fmt.Sprintf("S-1-5-21-1004336348-1177238915-682003330-%d", 1000+i%bc.entities)
				a := &adjoinv1.Alert{Id: fmt.Sprintf("mde-da%016x", i), Side: adjoinv1.Side(1 + i%2), Version: 1,
					Severity: adjoinv1.Severity(i % 5), Status: adjoinv1.AlertStatus(1 + i%3),
					FirstActivity: timestamppb.New(epoch), LastActivity: timestamppb.New(epoch)}
				msgs[i] = counted(key, a, key)
			}
			var held float64
			b.ResetTimer()
			for range b.N {
				l := NewLedger()
				for _, c := range msgs {
					l.Fold(c)
				}
				b.StopTimer()
				held = heapOf(l)
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/alert")
			b.ReportMetric(held/n, "B/alert")
		})
	}
}

// heapOf returns the live heap with l, minus the live heap once l is emptied.
func heapOf(l *Ledger) float64 {
	var with, without runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&with)
	*l = Ledger{}
	runtime.GC()
	runtime.ReadMemStats(&without)
	return float64(with.HeapAlloc) - float64(without.HeapAlloc)
}

// BenchmarkLedgerRecord builds the record of an entity holding 100,000 alerts (a full recent list
// of 128-byte ids), as the owner does once per changed entity per batch.
func BenchmarkLedgerRecord(b *testing.B) {
	l := NewLedger()
	for i := range 100_000 {
		a := &adjoinv1.Alert{Id: longID(i), Side: adjoinv1.Side(1 + i%2), Version: 1, Severity: adjoinv1.Severity(i % 5),
			FirstActivity: timestamppb.New(epoch), LastActivity: timestamppb.New(epoch)}
		l.Fold(counted("u", a, "u"))
	}
	b.ReportAllocs()
	for b.Loop() {
		l.Record("u")
	}
}

// BenchmarkLedgerFoldHistory folds one new alert per op onto an entity that already holds none,
// or 100,000 alerts: the cost must be the same.
func BenchmarkLedgerFoldHistory(b *testing.B) {
	for _, held := range []int{0, 100_000} {
		b.Run(fmt.Sprintf("held-%d", held), func(b *testing.B) {
			l := NewLedger()
			key := "S-1-5-21-1004336348-1177238915-682003330-1000"
			at := timestamppb.New(epoch)
			for i := range held {
				l.Fold(counted(key, &adjoinv1.Alert{Id: fmt.Sprintf("old-%d", i), Side: identity, Version: 1, FirstActivity: at}, key))
			}
			msgs := make([]*adjoinv1.CorrelatedAlert, b.N)
			for i := range msgs {
				msgs[i] = counted(key, &adjoinv1.Alert{Id: fmt.Sprintf("mde-da%016x", i), Side: adjoinv1.Side(1 + i%2),
					Version: 1, Severity: high, Status: newS, FirstActivity: at, LastActivity: at}, key)
			}
			b.ResetTimer()
			for i := range b.N {
				l.Fold(msgs[i])
			}
		})
	}
}

// BenchmarkLedgerSnapshot writes, then reads back, a ledger of 100,000 alerts over 10,000 entities.
func BenchmarkLedgerSnapshot(b *testing.B) {
	l := NewLedger()
	at := timestamppb.New(epoch)
	for i := range 100_000 {
		key := fmt.Sprintf("S-1-5-21-1004336348-1177238915-682003330-%d", 1000+i%10_000)
		l.Fold(counted(key, &adjoinv1.Alert{Id: fmt.Sprintf("mde-da%016x", i), Side: adjoinv1.Side(1 + i%2), Version: 1,
			Severity: high, Status: newS, FirstActivity: at, LastActivity: at}, key))
	}
	var buf bytes.Buffer
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			buf.Reset()
			if _, err := l.WriteTo(&buf); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(buf.Len())/100_000, "snapshot-B/alert")
	})
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			if _, err := NewLedger().ReadFrom(bytes.NewReader(buf.Bytes())); err != nil {
				b.Fatal(err)
			}
		}
	})
}
