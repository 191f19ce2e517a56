package app_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// The incident index holds incidents encoded, each one byte slice in a slot: what a collection
// must mark per incident held stays a few pointers (122 B here), not the decoded incident's
// graph (1,360 B: its alert ids, reasons and timestamps) nor decoded keys, strings and times
// beside the bytes (304 B, until 2026-12-08); ListEntityIncidents still answers the incidents
// whole.
func TestIncidentsHeldEncoded(t *testing.T) {
	const n = 20_000
	x := app.NewIncidents(app.IncidentsPerEntity, n)
	before := scanHeap()
	for i := range n {
		id := fmt.Sprint("inc-", i)
		keys := []string{fmt.Sprint("user.", i%5000), fmt.Sprint("computer.", i%700)}
		inc := &adjoinv1.Incident{Id: id, Title: "DCSync then credential dumping", EntityKeys: keys,
			FirstActivity: timestamppb.New(base), LastActivity: timestamppb.New(base.Add(time.Duration(i) * time.Second)),
			UpdatedTime: timestamppb.New(base.Add(time.Duration(i) * time.Second))}
		for a := range 10 {
			inc.AlertIds = append(inc.AlertIds, fmt.Sprintf("alert-%d-%d", i, a))
		}
		for r := range 3 {
			inc.Reasons = append(inc.Reasons, &adjoinv1.IncidentReason{AlertId: inc.AlertIds[r], Kind: "same-user", EntityKeys: keys})
		}
		x.Set(id, asFollowed(t, inc, &adjoinv1.Incident{}))
	}
	perIncident := (scanHeap() - before) / n
	t.Logf("scannable heap per incident held: %d B", perIncident)
	if perIncident > 200 {
		t.Errorf("%d B of scannable heap per incident held, want at most 200: the index holds decoded parts of incidents", perIncident)
	}
	got := x.ForEntity("user.7", 0)
	if len(got) == 0 || len(got[0].GetAlertIds()) != 10 || len(got[0].GetReasons()) != 3 || got[0].GetTitle() == "" {
		t.Fatalf("ForEntity(user.7) = %v: want whole incidents", got)
	}
	runtime.KeepAlive(x)
}
