package dcingest

import (
	"strings"
	"testing"
)

// TestSensorRingBounds: --capture-ring takes 0 (the default) and 2 to 4096 MiB, and names the
// range otherwise.
func TestSensorRingBounds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		mib int
		ok  bool
	}{{0, true}, {2, true}, {64, true}, {4096, true}, {-1, false}, {1, false}, {4097, false}} {
		err := SensorConfig{RingMiB: tt.mib}.Validate()
		if tt.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "MiB, want 2 to 4096")) {
			t.Errorf("RingMiB %d: Validate() = %v, want ok %v", tt.mib, err, tt.ok)
		}
	}
}
