package directory

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on linux/amd64 and arm64.
const hugePage = 2 << 20

// adviseHuge asks the kernel to back the whole 2 MiB pages of s with transparent huge pages
// (madvise MADV_HUGEPAGE, honoured when THP is "madvise" or "always"). The index's large
// arrays are read at random: with 4 KiB pages a million entities span ~60k pages, whose faults
// are a visible share of a load on a virtual machine (a 1M-entity first start took 0.6 s less
// with the advice, docs/performance.md). Only memory not written yet benefits: a large array is
// fresh memory from the system, but the runtime zeroes memory it reuses, which stays in small
// pages. It is advice: errors are ignored, and the index works the same without it.
func adviseHuge[T any](s []T) {
	if cap(s) == 0 {
		return
	}
	size := uintptr(cap(s)) * unsafe.Sizeof(s[:1][0])
	if size < 2*hugePage {
		return
	}
	p := unsafe.Pointer(unsafe.SliceData(s))
	start := uintptr(p)
	lo := (start + hugePage - 1) &^ (hugePage - 1)
	hi := (start + size) &^ (hugePage - 1)
	if hi <= lo {
		return
	}
	_ = syscall.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, lo-start)), hi-lo), syscall.MADV_HUGEPAGE)
}
