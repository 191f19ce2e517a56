package badge_test

import (
	"html"
	"net/http"
	"strings"
	"testing"
)

// TestConsoleIncidents: the entity page lists the entity's incidents (title, severity, the
// reasons in words, the other entities linked by name), and a live entity page is told when
// an incident of its entity is written, with no change to its badge.
func TestConsoleIncidents(t *testing.T) {
	t.Parallel()
	c := startConsole(t, nil)
	b := c.browser(t, "", nil)
	page := "/console/entity/" + keyPgustavo
	if code, _, body := b.do("GET", page, nil); code != http.StatusOK || !strings.Contains(body, "This entity is in no incident") {
		t.Fatalf("entity page before any incident: %d, want 200 saying it is in none", code)
	}

	next, _ := openEvents(t, c.base+page+"/events")
	next(": live")
	inc := shireIncident("inc-live", 12, keyPgustavo, keyWS5)
	c.put(t, c.incidents, inc.GetId(), inc)
	next("event: changed")

	code, _, body := b.do("GET", page+"?part=live", nil)
	body = html.UnescapeString(body)
	for _, want := range []string{
		`id="incident-inc-live"`, inc.GetTitle(), `<dd class="severity">high</dd>`,
		"the user logged on to the computer", inc.GetReasons()[0].GetSummary(),
		`href="/console/entity/` + keyWS5 + `">WORKSTATION5.theshire.local</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("live part of the entity page (%d) lacks %q", code, want)
		}
	}
}
