package ports_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestCounterCapped runs an owner whose state may hold 10 alerts and gives it 30: all 30 are
// counted, and the owner says so in its log and in adjoin_counter_alerts_unheld_total.
func TestCounterCapped(t *testing.T) {
	r := newCountRig(t, 1)
	all := make([]keyed, 0, 30)
	for i := range 30 {
		all = append(all, keyed{"capped", r.alert(fmt.Sprintf("cap-%02d", i), 1, identity, "capped")})
	}
	r.publish(t, true, all...)
	log, logs := observed()
	c := r.counter(r.s.JS, log)
	c.MaxHeld = 10
	r.run(t, c)
	eventually(t, 30*time.Second, r.drained)
	if err := r.exact(); err != nil {
		t.Fatal(err)
	}
	const warning = "partition state at its cap (--max-held): new alerts are counted without their state; a later version of one that has left its entity's recent alerts counts it again, and its close does not leave the open count"
	if n := lines(logs, warning, ""); n == 0 {
		t.Error("the cap was reached without a warning")
	}
	if got := testutil.ToFloat64(c.Metrics.CounterUnheld); got != 20 {
		t.Errorf("adjoin_counter_alerts_unheld_total = %v, want 20", got)
	}
}
