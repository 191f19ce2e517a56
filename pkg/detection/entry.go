package detection

import "github.com/adjoin/adjoin/pkg/bounded"

// Entry returns the value of k in m, storing a new zero value for k first when m does not hold
// it; m then keeps at most max keys (<= 0: no bound), forgetting the oldest. Detectors use it
// for their per-session and per-host state.
func Entry[K comparable, V any](m *bounded.Map[K, *V], max int, k K) *V {
	if v, ok := m.Get(k); ok {
		return v
	}
	v := new(V)
	m.Max = max
	m.Put(k, v)
	return v
}
