package directory

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestAdviseHugeAdvisesTheArray checks that adviseHuge marks the whole 2 MiB pages of a large
// array for transparent huge pages (VmFlags "hg" in /proc/self/smaps).
// Whether the kernel then backs them with huge pages depends on its settings and on
// whether the memory was written before (the runtime zeroes memory it reuses), so the advice
// is what is checked.
func TestAdviseHugeAdvisesTheArray(t *testing.T) {
	large := make([]slot, 4*hugePage/int(unsafe.Sizeof(slot{})))
	adviseHuge(large)
	lo := (uint64(uintptr(unsafe.Pointer(unsafe.SliceData(large)))) + hugePage - 1) &^ (hugePage - 1)
	if !slices.Contains(vmFlags(t, lo), "hg") {
		t.Fatalf("the mapping of %#x is not advised for huge pages (VmFlags %v)", lo, vmFlags(t, lo))
	}
}

// vmFlags returns the VmFlags of the mapping of this process that holds addr.
func vmFlags(t *testing.T, addr uint64) []string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if fl, ok := strings.CutPrefix(sc.Text(), "VmFlags:"); ok {
			if in {
				return strings.Fields(fl)
			}
			continue
		}
		if lo, hi, ok := strings.Cut(fields[0], "-"); ok {
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				in = l <= addr && addr < h
			}
		}
	}
	t.Fatalf("no mapping of this process holds %#x", addr)
	return nil
}
