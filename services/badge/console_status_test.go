package badge_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/heartbeat"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/testkit"
)

// TestConsoleStatusShowsCountersAndAuthors: the status page lists the counters a heartbeat
// carries (the DC ingestor's sensor), says "unknown" for a toggle with no recorded author,
// and names the console caller who toggles (without authentication: its address).
func TestConsoleStatusShowsCountersAndAuthors(t *testing.T) {
	t.Parallel()
	c := startConsole(t, nil)
	hb := &adjoinv1.ServiceHeartbeat{Service: "dcingest", Instance: "dc-sensor-1", Version: "test", Started: timestamppb.Now(), LastSeen: timestamppb.Now(),
		Counters: []*adjoinv1.HeartbeatCounter{{Name: "sensor.dropped_flows", Value: 2}, {Name: "sensor.packets", Value: 377}}}
	c.put(t, c.nats.KV(t, natsx.BucketStatus), heartbeat.KeyPrefix+"dcingest.dc-sensor-1", hb)
	b := c.browser(t, "", nil)
	testkit.Eventually(t, 10*time.Second, func() error {
		_, _, page := b.do("GET", "/console/status", nil)
		for _, want := range []string{`<td class="counters">sensor.dropped_flows 2, sensor.packets 377</td>`,
			`<td class="changed-by">unknown</td><td class="changed-at">unknown</td>`} {
			if !strings.Contains(page, want) {
				return fmt.Errorf("status page lacks %s:\n%s", want, page)
			}
		}
		return nil
	})
	_, _, page := b.do("GET", "/console/status", nil)
	if code, _, _ := b.do("POST", "/console/status/toggle", toggleForm(csrf(t, page), "endpoint", "off")); code != http.StatusSeeOther {
		t.Fatalf("toggle: %d", code)
	}
	_, _, page = b.do("GET", "/console/status", nil)
	if !strings.Contains(page, `<td class="changed-by">console:peer:127.0.0.1:`) {
		t.Errorf("status page after a console toggle does not name the console caller:\n%s", page)
	}
}
