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
	if id := c.claim([]string{rundll}, []string{rundll}, at, "first"); id != "first" {
		t.Fatalf("first claim = %q", id)
	}
	// Before or after, within the window: the episode's id; its child through the parent key.
	child := credProcessKey("WS1", "99")
	if id := c.claim([]string{child, rundll}, []string{child}, at.Add(-time.Minute), "second"); id != "first" {
		t.Errorf("child claim = %q, want first", id)
	}
	if id := c.claim([]string{child}, nil, at.Add(8*time.Minute), "third"); id != "first" {
		t.Errorf("child alone = %q, want first", id)
	}
	if id := c.claim([]string{rundll}, []string{rundll}, at.Add(time.Hour), "later"); id != "later" {
		t.Errorf("an id reused an hour later = %q, want a new episode", id)
	}
	if !c.known(rundll, at.Add(time.Hour)) || c.known(credProcessKey("WS2", "4824"), at) {
		t.Errorf("known() wrong")
	}
	var nilTable *CredEpisodes
	if nilTable.claim([]string{rundll}, []string{rundll}, at, "own") != "own" || nilTable.known(rundll, at) {
		t.Errorf("a nil table must group nothing")
	}
	small := &CredEpisodes{Window: time.Minute, MaxKeys: 3}
	for i := range 10 {
		k := credProcessKey("WS1", fmt.Sprint(i+1))
		small.claim([]string{k}, []string{k}, at, fmt.Sprint(i))
	}
	if n := small.m.Len(); n != 3 {
		t.Errorf("keys = %d, want the bound 3", n)
	}
	if small.known(credProcessKey("WS1", "1"), at) {
		t.Errorf("the oldest key is still known past the bound")
	}
}
