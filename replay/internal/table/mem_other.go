//go:build !linux

package table

// allocSlots returns a zeroed slot array from the Go heap (huge pages are
// only requested on Linux; see mem_linux.go).
func allocSlots[T SetSlot | domainSlot | sortEntry](n int) ([]T, tableMem) {
	return make([]T, n), tableMem{}
}

func unmapSlots([]byte) {}
