package detection

import (
	"testing"

	"github.com/adjoin/adjoin/pkg/bounded"
)

func TestEntryCreatesOnceAndForgetsTheOldestAtMax(t *testing.T) {
	type state struct{ n int }
	var m bounded.Map[string, *state]
	Entry(&m, 2, "a").n = 1
	if got := Entry(&m, 2, "a").n; got != 1 {
		t.Fatalf(`second Entry of "a" = %d, want the stored 1`, got)
	}
	Entry(&m, 2, "b")
	Entry(&m, 2, "c") // past max 2: "a" goes
	if _, ok := m.Get("a"); ok || m.Len() != 2 {
		t.Fatalf(`"a" kept past max, or Len %d`, m.Len())
	}
	if got := Entry(&m, 2, "a").n; got != 0 {
		t.Fatalf(`"a" after it was forgotten = %d, want a new zero value`, got)
	}
}
