package detect

import (
	"fmt"
	"testing"
	"time"
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
	if id := c.claim([]string{rundll}, []string{rundll}, credTime{t: at}, "first"); id != "first" {
		t.Fatalf("first claim = %q", id)
	}
	// Before or after, within the window: the episode's id; its child through the parent key.
	child := credProcessKey("WS1", "99")
	if id := c.claim([]string{child, rundll}, []string{child}, credTime{t: at.Add(-time.Minute)}, "second"); id != "first" {
		t.Errorf("child claim = %q, want first", id)
	}
	if id := c.claim([]string{child}, nil, credTime{t: at.Add(8 * time.Minute)}, "third"); id != "first" {
		t.Errorf("child alone = %q, want first", id)
	}
	if id := c.claim([]string{rundll}, []string{rundll}, credTime{t: at.Add(time.Hour)}, "later"); id != "later" {
		t.Errorf("an id reused an hour later = %q, want a new episode", id)
	}
	if !c.known(rundll, credTime{t: at.Add(time.Hour)}) || c.known(credProcessKey("WS2", "4824"), credTime{t: at}) {
		t.Errorf("known() wrong")
	}
	// A trace dated by a zone-less local clock (a 4688 in a PowerShell export) joins at a whole
	// number of hours off, as in cmd_sam_copy_esentutl where it is 8 h ahead of Sysmon's UtcTime;
	// the episode keeps the exact clock.
	store := credStoreKey("WS5", "hives")
	if id := c.claim([]string{store}, []string{store}, credTime{t: at}, "sysmon"); id != "sysmon" {
		t.Fatalf("store claim = %q", id)
	}
	if id := c.claim([]string{store}, []string{store}, credTime{t: at.Add(8*time.Hour + 2*time.Second), approx: true}, "local"); id != "sysmon" {
		t.Errorf("a local-clock trace 8h off = %q, want the episode's id", id)
	}
	if id := c.claim([]string{store}, []string{store}, credTime{t: at.Add(8*time.Hour + 30*time.Minute), approx: true}, "local2"); id != "local2" {
		t.Errorf("a local-clock trace 8h30 off, past the window = %q, want its own", id)
	}
	var nilTable *CredEpisodes
	if nilTable.claim([]string{rundll}, []string{rundll}, credTime{t: at}, "own") != "own" || nilTable.known(rundll, credTime{t: at}) {
		t.Errorf("a nil table must group nothing")
	}
	small := &CredEpisodes{Window: time.Minute, MaxKeys: 3}
	for i := range 10 {
		k := credProcessKey("WS1", fmt.Sprint(i+1))
		small.claim([]string{k}, []string{k}, credTime{t: at}, fmt.Sprint(i))
	}
	if n := small.m.Len(); n != 3 {
		t.Errorf("keys = %d, want the bound 3", n)
	}
	if small.known(credProcessKey("WS1", "1"), credTime{t: at}) {
		t.Errorf("the oldest key is still known past the bound")
	}
}
