package detection

import (
	"fmt"
	"testing"
)

func TestEvidenceCapStopsAtMax(t *testing.T) {
	var c EvidenceCap
	if got := c.Take("a", 3, 5); got != 3 {
		t.Fatalf("first Take = %d, want 3", got)
	}
	if got := c.Take("a", 3, 5); got != 2 {
		t.Fatalf("Take past the bound = %d, want the 2 left", got)
	}
	if c.TakeOne("a", 5) {
		t.Fatal("TakeOne at the bound said yes")
	}
	if !c.TakeOne("b", 5) {
		t.Fatal("another alert's TakeOne said no")
	}
	if got := c.Take("c", 7, 0); got != 7 {
		t.Fatalf("Take with no bound = %d, want 7", got)
	}
}

// TestEvidenceCapForgetsTheOldestIDs: past MaxIDs alert ids, the oldest id is forgotten and
// may carry evidence again.
func TestEvidenceCapForgetsTheOldestIDs(t *testing.T) {
	c := EvidenceCap{MaxIDs: 3}
	for i := range 4 {
		c.TakeOne(fmt.Sprint(i), 1)
	}
	if c.seen.Len() != 3 {
		t.Fatalf("ids remembered = %d, want the bound 3", c.seen.Len())
	}
	if !c.TakeOne("0", 1) {
		t.Fatal(`the oldest id "0" is still remembered past MaxIDs`)
	}
	if c.TakeOne("3", 1) {
		t.Fatal(`the newest id "3" was forgotten`)
	}
}
