package app_test

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// scanHeap is the heap a collection must mark for pointers, after a collection.
func scanHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// asFollowed is m as a bucket's follower hands it over: decoded from its bytes into into.
func asFollowed[M proto.Message](t *testing.T, m, into M) M {
	t.Helper()
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(raw, into); err != nil {
		t.Fatal(err)
	}
	return into
}

// The view holds records encoded: what a collection must mark per record stays small whatever
// the record holds (here its 20 most recent alerts), and Counts still answers the record whole.
func TestViewHoldsRecordsEncoded(t *testing.T) {
	const n = 5_000
	v := app.NewView()
	before := scanHeap()
	for i := range n {
		key := fmt.Sprint("user.", i)
		ts := timestamppb.New(base.Add(time.Duration(i) * time.Second))
		ec := &adjoinv1.EntityCounts{EntityKey: key, Format: 2, UpdatedTime: ts,
			Sides: []*adjoinv1.SideCounts{{Side: adjoinv1.Side_SIDE_IDENTITY, Total: 20, Open: 20, FirstActivity: ts, LastActivity: ts}}}
		for a := range 20 {
			ec.Recent = append(ec.Recent, &adjoinv1.CountedAlert{AlertId: fmt.Sprintf("alert-%d-%d", i, a), Side: adjoinv1.Side_SIDE_IDENTITY,
				Version: 1, FirstActivity: ts, LastActivity: ts, EntityKeys: []string{key}})
		}
		v.SetCounts(key, asFollowed(t, ec, &adjoinv1.EntityCounts{}))
	}
	perRecord := (scanHeap() - before) / n
	t.Logf("scannable heap per record held: %d B", perRecord)
	if perRecord > 200 {
		t.Errorf("%d B of scannable heap per record held, want at most 200: the view holds decoded records", perRecord)
	}
	ec, ok, err := v.Counts(t.Context(), "user.7")
	if err != nil || !ok || len(ec.GetRecent()) != 20 || ec.GetSides()[0].GetTotal() != 20 {
		t.Fatalf("Counts(user.7) = %v, %v, %v: want the whole record", ec, ok, err)
	}
	runtime.KeepAlive(v)
}
