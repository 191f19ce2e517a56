package detect

import (
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestZeekCopies(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2020, 5, 1, 7, 10, 49, 0, time.UTC)
	rec := func(uid, sensor string, dt time.Duration) zeekRecord {
		return zeekRecord{log: "dce_rpc", uid: uid, sensor: sensor, origH: "10.0.1.5", origP: "61054", respH: "10.0.0.4", respP: "445", t: t0.Add(dt)}
	}
	alert := &adjoinv1.Alert{Id: "a"}
	c := &zeekCopies{tolerance: 2 * time.Second, max: 2}
	c.remember(rec("CI5z", "utica-a", 0), "samrconnect5", alert)
	tests := []struct {
		name    string
		r       zeekRecord
		subject string
		copy    bool
	}{
		{name: "other sensor, other uid, 4 ms later", r: rec("C3q7", "newyork", 4*time.Millisecond), subject: "samrconnect5", copy: true},
		{name: "other uid, same sensor, earlier", r: rec("C3q7", "utica-a", -time.Second), subject: "samrconnect5", copy: true},
		{name: "same uid, other sensor (the README's case)", r: rec("CI5z", "newyork", 0), subject: "samrconnect5", copy: true},
		{name: "exact replay", r: rec("CI5z", "utica-a", 0), subject: "samrconnect5", copy: true},
		{name: "same connection calls again", r: rec("CI5z", "utica-a", 15*time.Millisecond), subject: "samrconnect5"},
		{name: "beyond the tolerance", r: rec("C3q7", "newyork", 3*time.Second), subject: "samrconnect5"},
		{name: "another operation", r: rec("C3q7", "newyork", 0), subject: "samropendomain"},
	}
	for _, tt := range tests {
		first, ok := c.copyOf(tt.r, tt.subject)
		if ok != tt.copy || (ok && first.alert != alert) {
			t.Errorf("%s: copy = %v (alert %v), want %v", tt.name, ok, first.alert, tt.copy)
		}
	}
	c.remember(rec("C2", "s", 0), "x", nil)
	c.remember(rec("C3", "s", 0), "y", nil)
	if _, ok := c.copyOf(rec("C9", "t", 0), "samrconnect5"); ok || c.m.Len() != 2 {
		t.Errorf("the oldest record was not forgotten: %d kept", c.m.Len())
	}
	if got := (zeekFirstCopy{}).alerts(); got != nil {
		t.Errorf("a copy of a silent record raised %v", got)
	}
}

func TestZeekEvidenceCap(t *testing.T) {
	t.Parallel()
	dcs, _ := ZeekDCAddresses("10.0.0.4")
	d := NewZeekDRSReplication(dcs)
	d.MaxEvidence = 2
	var events []*adjoinv1.Event
	for _, ts := range []string{"1588207100.1", "1588207100.2", "1588207100.3", "1588207100.4", "1588207100.5"} {
		events = append(events, zeekLine(t, zeekDRSLine("test-nsm", ts, "C1", "10.0.1.6", "DRSGetNCChanges")))
	}
	alerts := zeekRun([]detection.Detector{d}, events)
	if len(alerts) != 1 || len(alerts[0].GetEvidence()) != 2 {
		t.Fatalf("alerts %v, want one with 2 evidence", alerts)
	}
	if first, last := alerts[0].GetFirstActivity().AsTime(), alerts[0].GetLastActivity().AsTime(); last.Sub(first) != 400*time.Millisecond {
		t.Errorf("activity %v..%v does not span all five calls", first, last)
	}
}
