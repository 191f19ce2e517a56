package badge_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/counts"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit"
)

// TestBadgeReadsBothRecordFormats: during a rolling upgrade adjoin_badges holds format-1 records
// (every alert) and format-2 records (counters per side, written by the counter's ledger). The
// same alerts give the same badge in either format, and a format-1 record replaced by its
// format-2 conversion leaves the badge as it was.
func TestBadgeReadsBothRecordFormats(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	at := func(m int) *timestamppb.Timestamp {
		return timestamppb.New(time.Date(2026, 3, 1, 8, m, 0, 0, time.UTC))
	}
	alerts := []*adjoinv1.Alert{
		{Id: "dc-1", Side: adjoinv1.Side_SIDE_IDENTITY, Severity: adjoinv1.Severity_SEVERITY_HIGH, Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW, Version: 1, FirstActivity: at(1), LastActivity: at(5)},
		{Id: "dc-2", Side: adjoinv1.Side_SIDE_IDENTITY, Severity: adjoinv1.Severity_SEVERITY_LOW, Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW, Version: 1, FirstActivity: at(2), LastActivity: at(3)},
		{Id: "dc-2", Side: adjoinv1.Side_SIDE_IDENTITY, Severity: adjoinv1.Severity_SEVERITY_MEDIUM, Status: adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED, Version: 2, FirstActivity: at(2), LastActivity: at(9)},
		{Id: "ep-1", Side: adjoinv1.Side_SIDE_ENDPOINT, Severity: adjoinv1.Severity_SEVERITY_MEDIUM, Status: adjoinv1.AlertStatus_ALERT_STATUS_IN_PROGRESS, Version: 3, FirstActivity: at(4), LastActivity: at(7)},
	}
	format1 := func(key string) *adjoinv1.EntityCounts {
		ec := &adjoinv1.EntityCounts{EntityKey: key}
		for _, a := range alerts {
			counts.Apply(ec, a, key)
		}
		return ec
	}
	format2 := func(key string) *adjoinv1.EntityCounts {
		l := counts.NewLedger()
		for _, a := range alerts {
			l.Fold(&adjoinv1.CorrelatedAlert{Alert: a, EntityKey: key, Resolutions: []*adjoinv1.Resolution{{EntityKey: key}}})
		}
		return l.Record(key)
	}
	h.put(t, h.badges, keyWS6, format1(keyWS6))
	h.put(t, h.badges, keyPgustavo, format2(keyPgustavo))

	counted := func(b *adjoinv1.Badge) error {
		return firstErr(sideIs(b.GetIdentity(), true, reasonNone, 2), sideIs(b.GetEndpoint(), true, reasonNone, 1))
	}
	var one, two *adjoinv1.Badge
	testkit.Eventually(t, 5*time.Second, badgeSays(h, t, bySID(keyWS6), func(b *adjoinv1.Badge) error { one = b; return counted(b) }))
	testkit.Eventually(t, 5*time.Second, badgeSays(h, t, bySID(keyPgustavo), func(b *adjoinv1.Badge) error { two = b; return counted(b) }))
	for _, side := range []struct{ one, two *adjoinv1.SideBadge }{{one.GetIdentity(), two.GetIdentity()}, {one.GetEndpoint(), two.GetEndpoint()}} {
		a, b := proto.Clone(side.one).(*adjoinv1.SideBadge), proto.Clone(side.two).(*adjoinv1.SideBadge)
		a.Link, b.Link = "", ""
		if !proto.Equal(a, b) {
			t.Errorf("format 1 gives\n%s\nformat 2 gives\n%s", prototext.Format(a), prototext.Format(b))
		}
	}
	if id := two.GetIdentity(); id.GetOpen() != 1 || id.GetHighestSeverity() != adjoinv1.Severity_SEVERITY_HIGH ||
		!id.GetFirstAlertTime().AsTime().Equal(at(1).AsTime()) || !id.GetLastAlertTime().AsTime().Equal(at(9).AsTime()) {
		t.Errorf("format-2 identity badge %s", prototext.Format(id))
	}

	// The watcher applies writes in order: once the record written after the conversion shows,
	// the conversion has been read.
	h.put(t, h.badges, keyWS6, format2(keyWS6))
	h.put(t, h.badges, keyWS5, format2(keyWS5))
	testkit.Eventually(t, 5*time.Second, badgeSays(h, t, bySID(keyWS5), counted))
	b, err := h.get(t, bySID(keyWS6))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(b, one) {
		t.Errorf("after the upgrade to format 2\n%s\nwant\n%s", prototext.Format(b), prototext.Format(one))
	}
}
