package counts

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// format2 is a format-2 record of key listing n recent alerts, each counted on keys.
func format2(key string, n int, keys ...string) *adjoinv1.EntityCounts {
	ec := &adjoinv1.EntityCounts{EntityKey: key, Format: Format,
		Sides: []*adjoinv1.SideCounts{{Side: identity, Total: int64(n), Open: int64(n),
			BySeverity: []*adjoinv1.SeverityCount{{Severity: high, Count: int64(n)}}}}}
	for i := range n {
		ec.Recent = append(ec.Recent, &adjoinv1.CountedAlert{AlertId: fmt.Sprint("a", i), Side: identity, Severity: high,
			Status: newS, Version: 1, EntityKeys: keys})
	}
	return ec
}

// TestLedgerSeedRefuses seeds records at each bound (accepted) and one past it (refused, the
// ledger unchanged).
func TestLedgerSeedRefuses(t *testing.T) {
	t.Parallel()
	longKey := strings.Repeat("k", MaxKeyBytes)
	keys := make([]string, MaxEntityKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%03d", longKey[:MaxKeyBytes-3], i)
	}
	tests := []struct {
		name    string
		ec      *adjoinv1.EntityCounts
		wantErr string
	}{
		{"at the bounds", format2(longKey, RecentMax, keys...), ""},
		{"no entity key", format2("", 1), "entity key of 0 bytes"},
		{"entity key too long", format2(longKey+"k", 1), "entity key of 265 bytes"},
		{"too many recent alerts", format2("u", RecentMax+1), "51 recent alerts"},
		{"too many entity keys", format2("u", 1, append(keys, "u")...), "9 entity keys"},
		{"entity key of a recent alert too long", format2("u", 1, longKey+"k"), "entity key of 265 bytes"},
		{"empty entity key of a recent alert", format2("u", 1, ""), "entity key of 0 bytes"},
		{"recent alert without id", func() *adjoinv1.EntityCounts {
			ec := format2("u", 2)
			ec.Recent[1].AlertId = ""
			return ec
		}(), "recent alert 1: id of 0 bytes"},
		{"recent alert id too long", func() *adjoinv1.EntityCounts {
			ec := format2("u", 1)
			ec.Recent[0].AlertId = strings.Repeat("x", MaxIDBytes+1)
			return ec
		}(), "id of 129 bytes"},
		{"format-1 alert id too long", &adjoinv1.EntityCounts{EntityKey: "u", Alerts: []*adjoinv1.CountedAlert{
			{AlertId: strings.Repeat("x", MaxIDBytes+1), Side: identity, Version: 1}}}, "alert 0: id of 129 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLedger()
			l.Fold(counted("kept", alert("a", identity, 1, high, newS), "kept"))
			_, err := l.Seed(tc.ec)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err %v, want one saying %q", err, tc.wantErr)
			case tc.wantErr != "":
				if n, held := l.Len(); n != 1 || held != 1 {
					t.Errorf("a refused record changed the ledger: %d entities, %d held", n, held)
				}
				return
			}
			rec := l.Record(tc.ec.GetEntityKey())
			if size := proto.Size(rec) + updatedTimeBytes; size > MaxRecordBytes {
				t.Errorf("record of %d bytes", size)
			}
			roundTrip(t, l)
		})
	}
}

// FuzzLedgerSeed seeds arbitrary records: Seed never panics, and a record it accepts gives a
// record within MaxRecordBytes and a snapshot that reads back.
func FuzzLedgerSeed(f *testing.F) {
	for _, ec := range []*adjoinv1.EntityCounts{
		format2("u", 3, "u", "h"), format2("u", RecentMax), format2("u", RecentMax+1),
		format2(strings.Repeat("k", MaxKeyBytes+1), 1),
		{EntityKey: "u", Alerts: []*adjoinv1.CountedAlert{{AlertId: "a", Side: identity, Version: 2, EntityKeys: []string{"u", "h"}}}},
	} {
		b, err := proto.Marshal(ec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ec adjoinv1.EntityCounts
		if proto.Unmarshal(data, &ec) != nil {
			return
		}
		l := NewLedger()
		if _, err := l.Seed(&ec); err != nil {
			return
		}
		if size := proto.Size(l.Record(ec.GetEntityKey())) + updatedTimeBytes; size > MaxRecordBytes {
			t.Fatalf("record of %d bytes", size)
		}
		var buf bytes.Buffer
		if _, err := l.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := NewLedger().ReadFrom(&buf); err != nil {
			t.Fatalf("the snapshot of a seeded ledger is refused: %v", err)
		}
	})
}
