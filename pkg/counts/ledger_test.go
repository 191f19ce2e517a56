package counts

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// counted is the CorrelatedAlert a partition owner folds: alert a counted on key, resolved to keys.
func counted(key string, a *adjoinv1.Alert, keys ...string) *adjoinv1.CorrelatedAlert {
	c := &adjoinv1.CorrelatedAlert{Alert: a, EntityKey: key}
	for _, k := range keys {
		c.Resolutions = append(c.Resolutions, &adjoinv1.Resolution{EntityKey: k})
	}
	return c
}

func TestLedgerFold(t *testing.T) {
	t.Parallel()
	l := NewLedger()
	steps := []struct {
		name string
		c    *adjoinv1.CorrelatedAlert
		want bool
	}{
		{"new alert", counted("u1", alert("a", identity, 1, high, newS), "u1"), true},
		{"redelivery", counted("u1", alert("a", identity, 1, high, newS), "u1"), false},
		{"other side", counted("u1", alert("b", endpoint, 1, medium, newS), "u1"), true},
		{"update", counted("u1", alert("a", identity, 2, medium, resolved), "u1"), true},
		{"older version", counted("u1", alert("a", identity, 1, high, newS), "u1"), false},
		{"same version, one more entity", counted("u1", alert("a", identity, 2, medium, resolved), "u1", "h1"), true},
		{"no entity", counted("", alert("c", identity, 1, high, newS)), false},
		{"no alert", &adjoinv1.CorrelatedAlert{EntityKey: "u1"}, false},
	}
	for _, s := range steps {
		if got := l.Fold(s.c); got != s.want {
			t.Errorf("%s: Fold = %v, want %v", s.name, got, s.want)
		}
	}
	rec := l.Record("u1")
	if rec.GetFormat() != Format {
		t.Fatalf("format = %d, want %d", rec.GetFormat(), Format)
	}
	id := Summarise(rec, identity)
	if id.GetTotal() != 1 || id.GetOpen() != 0 || id.GetHighestSeverity() != medium {
		t.Errorf("identity = %v, want total 1, open 0, highest medium", id)
	}
	if ep := Summarise(rec, endpoint); ep.GetTotal() != 1 || ep.GetOpen() != 1 {
		t.Errorf("endpoint = %v, want total 1, open 1", ep)
	}
	if ids := l.OtherSide("u1", identity); len(ids) != 1 || ids[0] != "b" {
		t.Errorf("OtherSide(identity) = %v, want [b]", ids)
	}
	r := rec.GetRecent()
	if len(r) != 2 || r[0].GetAlertId() != "a" || r[0].GetVersion() != 2 || len(r[0].GetEntityKeys()) != 2 {
		t.Errorf("recent = %v, want a (version 2, on h1 and u1) first", r)
	}
	if l.Record("nobody") != nil || l.OtherSide("nobody", identity) != nil {
		t.Error("an unknown key has a record or recent alerts")
	}
	if e, a := l.Len(); e != 1 || a != 2 {
		t.Errorf("Len = %d, %d, want 1, 2", e, a)
	}
	var buf bytes.Buffer
	if _, err := l.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	back := NewLedger()
	if _, err := back.ReadFrom(&buf); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(back.Record("u1"), rec) {
		t.Errorf("after a snapshot round trip: %v, want %v", back.Record("u1"), rec)
	}
}
