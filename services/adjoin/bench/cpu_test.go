package bench

import (
	"os"
	"testing"
	"time"
)

// The fields read from /proc/<pid>/stat are the ones named: this process's CPU time there
// follows getrusage's, and touching fresh memory adds minor faults; an ended process counts 0.
func TestProcStat(t *testing.T) {
	self := []int{os.Getpid()}
	cpu, faults := procsCPU(self), procsFaults(self)
	deadline := time.Now().Add(200 * time.Millisecond)
	for n := 0; time.Now().Before(deadline); n++ {
		_ = n * n
	}
	mem := make([]byte, 64<<20)
	for i := 0; i < len(mem); i += 4096 {
		mem[i] = 1
	}
	if used := procsCPU(self) - cpu; used < 100*time.Millisecond {
		t.Errorf("procsCPU: %s used over 200 ms of spinning, want at least 100 ms", used)
	}
	if own, proc := ownCPU(), procsCPU(self); proc > own+50*time.Millisecond || proc < own-200*time.Millisecond {
		t.Errorf("procsCPU %s, getrusage %s: not the same clock", proc, own)
	}
	if n := procsFaults(self) - faults; n < 8000 {
		t.Errorf("procsFaults: %d faults after touching 16,384 fresh pages, want at least 8,000", n)
	}
	if n := procsFaults([]int{1 << 30}); n != 0 {
		t.Errorf("procsFaults of no process = %d, want 0", n)
	}
}
