package replay

import "hash/maphash"

// domainTable holds the stored TATs of the CertificatesPerDomain buckets
// that are not full, keyed by registered domain: an open-addressing hash
// table with linear probing, like setTable (see there for why not a Go
// map), whose 64-byte slots hold the domain's bytes inline, so that a
// lookup reads one cache line and compares the whole key (exact).
//
// A slot with length 0 is empty. Domains that do not fit a slot (longer
// than domainInline bytes, or empty) live in a Go map, long, instead.
type domainTable struct {
	slots []domainSlot // len is a power of two
	mask  uint64
	n     int // occupied slots
	limit int // the n at which the table grows (load factor 0.7)
	seed  maphash.Seed
	long  map[string]int64
	mem   tableMem

	// index, when set (tests only), replaces the hash that picks a key's
	// home slot, to force collisions and wraparound.
	index func(d string) uint64
}

// domainInline is the longest domain a slot holds; registered domains
// are almost always far shorter.
const domainInline = 55

type domainSlot struct {
	tat int64
	n   uint8 // the domain's length; 0 for an empty slot
	b   [domainInline]byte
}

const minDomainTableSize = 1 << 8

func newDomainTable() *domainTable {
	t := &domainTable{seed: maphash.MakeSeed()}
	t.resize(minDomainTableSize)
	return t
}

func inline(d string) bool { return uint(len(d))-1 < domainInline }

func (t *domainTable) home(d string) uint64 {
	if t.index != nil {
		return t.index(d) & t.mask
	}
	return maphash.String(t.seed, d) & t.mask
}

// homeOf is home for a stored key (maphash.Bytes hashes as String does).
func (t *domainTable) homeOf(s *domainSlot) uint64 {
	if t.index != nil {
		return t.index(string(s.b[:s.n])) & t.mask
	}
	return maphash.Bytes(t.seed, s.b[:s.n]) & t.mask
}

func (s *domainSlot) holds(d string) bool {
	return int(s.n) == len(d) && string(s.b[:len(d)]) == d
}

// get returns the stored TAT of domain d.
func (t *domainTable) get(d string) (int64, bool) {
	if !inline(d) {
		tat, ok := t.long[d]
		return tat, ok
	}
	slots, mask := t.slots, t.mask
	for i := t.home(d); ; i = (i + 1) & mask {
		s := &slots[i]
		if s.n == 0 {
			return 0, false
		}
		if s.holds(d) {
			return s.tat, true
		}
	}
}

// set stores the TAT of domain d.
func (t *domainTable) set(d string, tat int64) {
	if !inline(d) {
		if t.long == nil {
			t.long = make(map[string]int64)
		}
		t.long[d] = tat
		return
	}
	for {
		slots, mask := t.slots, t.mask
		for i := t.home(d); ; i = (i + 1) & mask {
			s := &slots[i]
			if s.holds(d) {
				s.tat = tat
				return
			}
			if s.n != 0 {
				continue
			}
			if t.n+1 > t.limit {
				break // grow, then probe again
			}
			s.tat, s.n = tat, uint8(len(d))
			copy(s.b[:], d)
			t.n++
			return
		}
		t.resize(2 * len(t.slots))
	}
}

// Len returns the number of domains held.
func (t *domainTable) Len() int { return t.n + len(t.long) }

func (t *domainTable) resize(size int) {
	old, oldMem := t.slots, t.mem
	t.slots, t.mem = allocSlots[domainSlot](size)
	t.mask = uint64(size - 1)
	t.limit = size / 10 * 7
	for i := range old {
		s := &old[i]
		if s.n == 0 {
			continue
		}
		j := t.homeOf(s)
		for t.slots[j].n != 0 {
			j = (j + 1) & t.mask
		}
		t.slots[j] = *s
	}
	oldMem.release()
	releaseWith(&t.mem, t)
}

// sweep drops every bucket that is full at now (tat <= now), in place,
// as setTable.sweep does, and shrinks the table when it is mostly empty.
func (t *domainTable) sweep(now int64) {
	for d, tat := range t.long {
		if tat <= now {
			delete(t.long, d)
		}
	}
	slots, mask := t.slots, t.mask
	s0 := uint64(0)
	for slots[s0].n != 0 {
		s0++
	}
	for step := uint64(1); step <= mask; step++ {
		p := (s0 + step) & mask
		s := &slots[p]
		if s.n == 0 {
			continue
		}
		if s.tat <= now {
			*s = domainSlot{}
			t.n--
			continue
		}
		for q := t.homeOf(s); q != p; q = (q + 1) & mask {
			if slots[q].n == 0 {
				slots[q] = *s
				*s = domainSlot{}
				break
			}
		}
	}
	// Shrink below 1/16 full, to at most 1/4 full: far enough from the
	// load limit that a table does not shrink and grow back by turns.
	if len(t.slots) > minDomainTableSize && t.n < len(t.slots)/16 {
		size := len(t.slots)
		for size > minDomainTableSize && t.n < size/8 {
			size /= 2
		}
		t.resize(size)
	}
}
