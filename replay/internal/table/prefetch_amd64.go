package table

// HavePrefetch reports that prefetch does something.
const HavePrefetch = true

// prefetch asks the CPU to fetch the cache line of each address, without
// waiting for it: PREFETCHT0 retires at once, so the fetches overlap with
// whatever follows. An address need not be valid (prefetches never fault).
//
//go:noescape
func prefetch(addrs []uintptr)
