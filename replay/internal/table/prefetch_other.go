//go:build !amd64

package table

// HavePrefetch reports that prefetch does something.
const HavePrefetch = false

// prefetch is a no-op where no prefetch instruction is wired up.
func prefetch(addrs []uintptr) {}
