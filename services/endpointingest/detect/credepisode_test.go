package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
)

func TestCredEpisodes(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	c := NewCredEpisodes()
	rundll := credProcessKey("WS1.corp.example", "4824")
	if got := credProcessKey("ws1", "0x12d8"); got != rundll {
		t.Fatalf("hex and decimal ids differ: %q %q", got, rundll)
	}
	if credProcessKey("WS1", "0") != "" || credProcessKey("WS1", "x") != "" {
		t.Errorf("no id must give no key")
	}
	if id := c.Claim([]string{rundll}, []string{rundll}, detection.Trace{Time: at}, "first"); id != "first" {
		t.Fatalf("first claim = %q", id)
	}
	// Before or after, within the window: the episode's id; its child through the parent key.
	child := credProcessKey("WS1", "99")
	if id := c.Claim([]string{child, rundll}, []string{child}, detection.Trace{Time: at.Add(-time.Minute)}, "second"); id != "first" {
		t.Errorf("child claim = %q, want first", id)
	}
	if id := c.Claim([]string{child}, nil, detection.Trace{Time: at.Add(8 * time.Minute)}, "third"); id != "first" {
		t.Errorf("child alone = %q, want first", id)
	}
	if id := c.Claim([]string{rundll}, []string{rundll}, detection.Trace{Time: at.Add(time.Hour)}, "later"); id != "later" {
		t.Errorf("an id reused an hour later = %q, want a new episode", id)
	}
	if !c.Known(rundll, detection.Trace{Time: at.Add(time.Hour)}) || c.Known(credProcessKey("WS2", "4824"), detection.Trace{Time: at}) {
		t.Errorf("known() wrong")
	}
	// A trace dated by a zone-less local clock (a 4688 in a PowerShell export) joins at a whole
	// number of hours off, as in cmd_sam_copy_esentutl where it is 8 h ahead of Sysmon's UtcTime;
	// the episode keeps the exact clock.
	store := credStoreKey("WS5", "hives")
	if id := c.Claim([]string{store}, []string{store}, detection.Trace{Time: at}, "sysmon"); id != "sysmon" {
		t.Fatalf("store claim = %q", id)
	}
	if id := c.Claim([]string{store}, []string{store}, detection.Trace{Time: at.Add(8*time.Hour + 2*time.Second), Approx: true}, "local"); id != "sysmon" {
		t.Errorf("a local-clock trace 8h off = %q, want the episode's id", id)
	}
	if id := c.Claim([]string{store}, []string{store}, detection.Trace{Time: at.Add(8*time.Hour + 30*time.Minute), Approx: true}, "local2"); id != "local2" {
		t.Errorf("a local-clock trace 8h30 off, past the window = %q, want its own", id)
	}
	var nilTable *CredEpisodes
	if nilTable.Claim([]string{rundll}, []string{rundll}, detection.Trace{Time: at}, "own") != "own" || nilTable.Known(rundll, detection.Trace{Time: at}) {
		t.Errorf("a nil table must group nothing")
	}
	small := detection.NewEpisodes(time.Minute, 3)
	for i := range 10 {
		k := credProcessKey("WS1", fmt.Sprint(i+1))
		small.Claim([]string{k}, []string{k}, detection.Trace{Time: at}, fmt.Sprint(i))
	}
	if n := small.Len(); n != 3 {
		t.Errorf("keys = %d, want the bound 3", n)
	}
	if small.Known(credProcessKey("WS1", "1"), detection.Trace{Time: at}) {
		t.Errorf("the oldest key is still known past the bound")
	}
}
