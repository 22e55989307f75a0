//go:build !amd64

package replay

// havePrefetch reports that prefetch does something.
const havePrefetch = false

// prefetch is a no-op where no prefetch instruction is wired up.
func prefetch(addrs []uintptr) {}
