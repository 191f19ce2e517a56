package bounded

import (
	"fmt"
	"testing"
)

func TestMapForgetsTheOldestAtMax(t *testing.T) {
	m := NewMap[string, int](3)
	for i, k := range []string{"a", "b", "c"} {
		m.Put(k, i)
	}
	m.Put("a", 10) // held: keeps its place, oldest still
	m.Put("d", 3)  // past Max: "a" goes
	if _, ok := m.Get("a"); ok {
		t.Error(`"a" kept past Max`)
	}
	for _, k := range []string{"b", "c", "d"} {
		if _, ok := m.Get(k); !ok {
			t.Errorf("%q forgotten", k)
		}
	}
	if m.Len() != 3 {
		t.Errorf("Len = %d, want 3", m.Len())
	}
	m.Put("e", 4)
	if _, ok := m.Get("b"); ok || m.Len() != 3 {
		t.Errorf(`"b" kept or Len %d`, m.Len())
	}
}

func TestMapUnbounded(t *testing.T) {
	var m Map[int, int] // zero value: empty, no bound
	for i := range 1000 {
		m.Put(i, i)
	}
	if v, ok := m.Get(0); !ok || v != 0 || m.Len() != 1000 {
		t.Errorf("Get(0) = %d, %v; Len %d", v, ok, m.Len())
	}
}

// TestMapMemoryAtTheBound: a million distinct keys through a map of 100 keep its key slice
// under a small multiple of Max, and the last 100 keys held.
func TestMapMemoryAtTheBound(t *testing.T) {
	const max = 100
	m := NewMap[string, int](max)
	for i := range 1_000_000 {
		m.Put(fmt.Sprint(i), i)
		if c := cap(m.order); c > 4*max {
			t.Fatalf("after %d keys the key slice has capacity %d, over 4×Max", i+1, c)
		}
	}
	if m.Len() != max {
		t.Fatalf("Len = %d, want %d", m.Len(), max)
	}
	for i := 1_000_000 - max; i < 1_000_000; i++ {
		if v, ok := m.Get(fmt.Sprint(i)); !ok || v != i {
			t.Fatalf("key %d: %d, %v", i, v, ok)
		}
	}
}
