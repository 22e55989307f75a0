//go:build linux

package table

import (
	"syscall"
	"unsafe"
)

// hugePage is the transparent huge page size the mapping is aligned to.
const hugePage = 2 << 20

// allocSlots returns a zeroed slot array (of pointer-free slots). Large ones are anonymous
// mappings advised MADV_HUGEPAGE: the Go heap does not get transparent huge
// pages where they are opt-in (madvise mode), and a random lookup into a
// table of hundreds of MB then costs a TLB miss on top of the cache miss.
// The slots hold no pointers, so the garbage collector need not see them.
func allocSlots[T SetSlot | domainSlot | sortEntry](n int) ([]T, tableMem) {
	var zero T
	size := n * int(unsafe.Sizeof(zero))
	if size < mmapMinBytes {
		return make([]T, n), tableMem{}
	}
	// Over-map by a huge page to align the start to one.
	mem, err := syscall.Mmap(-1, 0, size+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]T, n), tableMem{}
	}
	off := 0
	if r := int(uintptr(unsafe.Pointer(&mem[0])) % hugePage); r != 0 {
		off = hugePage - r
	}
	body := mem[off : off+size]
	_ = syscall.Madvise(body, syscall.MADV_HUGEPAGE) // advice only: without it the table still works
	return unsafe.Slice((*T)(unsafe.Pointer(&body[0])), n), tableMem{mapped: mem}
}

func unmapSlots(mem []byte) { _ = syscall.Munmap(mem) }
