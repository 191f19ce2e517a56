package badge_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit"
)

// shireIncident is an incident of the S1 recording's shape: the DCSync by pgustavo and the
// Grunt on WORKSTATION5, joined because pgustavo's alert and the host's are linked.
func shireIncident(id string, lastMinute int, keys ...string) *adjoinv1.Incident {
	return &adjoinv1.Incident{Id: id, Title: "Cross-source incident " + id, Severity: adjoinv1.Severity_SEVERITY_HIGH,
		Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW, AlertIds: []string{"dcsync-" + id, "grunt-" + id}, EntityKeys: keys,
		Reasons: []*adjoinv1.IncidentReason{{AlertId: "grunt-" + id, Kind: "user-logged-on-to-host", EntityKeys: keys,
			Summary: "pgustavo logged on to WORKSTATION5 at 2020-08-05T02:09:26Z (4624), linked to alert dcsync-" + id}},
		FirstActivity: at(2, 9), LastActivity: at(2, lastMinute)}
}

// incidentsOf lists the incident ids ListEntityIncidents gives for sel, for eventually.
func incidentsOf(h *harness, t *testing.T, sel *adjoinv1.EntitySelector, want ...string) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := h.client.ListEntityIncidents(ctx, &adjoinv1.ListEntityIncidentsRequest{Selector: sel})
		if err != nil {
			return err
		}
		got := []string{}
		for _, inc := range resp.GetIncidents() {
			got = append(got, inc.GetId())
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("incidents of %v: %v, want %v", sel, got, want)
		}
		return nil
	}
}

// TestListEntityIncidents: the badge service follows adjoin_incidents (stored before it starts
// and written after) and answers each entity's incidents, resolved as GetBadge resolves names,
// most recent first; a merged incident is answered as the one it merged into; a deleted one
// is gone.
func TestListEntityIncidents(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	kv := h.incidents
	h.put(t, kv, "inc-a", shireIncident("inc-a", 10, keyPgustavo)) // stored before the start
	h.run(t, nil)
	pg, ws5 := byQuery(`THESHIRE\pgustavo`), byQuery("WORKSTATION5")
	testkit.Eventually(t, 10*time.Second, incidentsOf(h, t, pg, "inc-a"))

	h.put(t, kv, "inc-b", shireIncident("inc-b", 30, keyPgustavo, keyWS5))
	testkit.Eventually(t, 10*time.Second, incidentsOf(h, t, pg, "inc-b", "inc-a"))
	testkit.Eventually(t, 10*time.Second, incidentsOf(h, t, ws5, "inc-b"))

	// The whole incident comes back, reasons included, and names the entity it was asked for.
	resp, err := h.client.ListEntityIncidents(rpcCtx(t), &adjoinv1.ListEntityIncidentsRequest{Selector: bySID(keyWS5), Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetEntityKey() != keyWS5 || len(resp.GetIncidents()) != 1 ||
		resp.GetIncidents()[0].GetReasons()[0].GetKind() != "user-logged-on-to-host" {
		t.Errorf("ListEntityIncidents(WORKSTATION5) = %v", resp)
	}

	// inc-a joins inc-b: pgustavo is in inc-b only, once.
	merged := shireIncident("inc-a", 10, keyPgustavo)
	merged.MergedInto = "inc-b"
	h.put(t, kv, "inc-a", merged)
	testkit.Eventually(t, 10*time.Second, incidentsOf(h, t, pg, "inc-b"))

	if err := kv.Delete(context.Background(), "inc-b"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, incidentsOf(h, t, ws5))
	testkit.Eventually(t, 10*time.Second, incidentsOf(h, t, pg))

	for _, tt := range []struct {
		name string
		req  *adjoinv1.ListEntityIncidentsRequest
		want codes.Code
	}{
		{"unknown entity", &adjoinv1.ListEntityIncidentsRequest{Selector: byQuery(`THESHIRE\nobody`)}, codes.NotFound},
		{"no selector", &adjoinv1.ListEntityIncidentsRequest{}, codes.InvalidArgument},
		{"negative limit", &adjoinv1.ListEntityIncidentsRequest{Selector: pg, Limit: -1}, codes.InvalidArgument},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.client.ListEntityIncidents(rpcCtx(t), tt.req)
			if status.Code(err) != tt.want {
				t.Errorf("ListEntityIncidents = %v, want %s", err, tt.want)
			}
		})
	}
}
