package table

import "unsafe"

// Prefetch gathers addresses whose cache lines the CPU should fetch
// without waiting, and fetches them all at once (Do): many cache misses
// in flight instead of one after another. It only moves cache lines; no
// value is read through it, so a stale or odd address is harmless.
type Prefetch struct {
	addrs [160]uintptr
	n     int
}

// Len is the number of addresses gathered; Cap the most it holds.
func (p *Prefetch) Len() int { return p.n }

// Cap is the most addresses a Prefetch holds.
func (p *Prefetch) Cap() int { return len(p.addrs) }

func (p *Prefetch) add(a uintptr) {
	if p.n < len(p.addrs) {
		p.addrs[p.n] = a
		p.n++
	}
}

// Strings adds the backing array of a slice of strings.
func (p *Prefetch) Strings(ss []string) { p.add(uintptr(unsafe.Pointer(unsafe.SliceData(ss)))) }

// String adds the bytes of a string.
func (p *Prefetch) String(s string) { p.add(uintptr(unsafe.Pointer(unsafe.StringData(s)))) }

// SetHome adds the home slot of a set: its first and last words, as a
// slot may straddle two cache lines.
func (p *Prefetch) SetHome(t *Sets, k *Key) {
	h := t.hash(k)
	slots := t.segOf(h).slots
	if len(slots) == 0 {
		return
	}
	s := &slots[home(h, len(slots))]
	p.add(uintptr(unsafe.Pointer(&s.Key)))
	p.add(uintptr(unsafe.Pointer(&s.LastNB)))
}

// DomainHome adds the home slot of a domain held inline.
func (p *Prefetch) DomainHome(t *Domains, d string) {
	if Inline(d) {
		p.add(uintptr(unsafe.Pointer(&t.slots[t.home(d)])))
	}
}

// Do fetches the gathered addresses and empties p.
func (p *Prefetch) Do() {
	prefetch(p.addrs[:p.n])
	p.n = 0
}
