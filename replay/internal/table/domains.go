package table

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
)

// Domains holds the stored TATs of the CertificatesPerDomain buckets
// that are not full, keyed by registered domain: an open-addressing hash
// table with linear probing, like Sets (see there for why not a Go
// map), whose 64-byte slots hold the domain's bytes inline, so that a
// lookup reads one cache line and compares the whole key (exact).
//
// A slot with length 0 is empty. Domains that do not fit a slot (longer
// than domainInline bytes, or empty) live in a Go map, long, instead.
type Domains struct {
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

// NewDomains returns an empty table.
func NewDomains() *Domains {
	t := &Domains{seed: maphash.MakeSeed()}
	t.resize(minDomainTableSize)
	return t
}

// Inline reports whether d is held in a slot (and so can be prefetched).
func Inline(d string) bool { return uint(len(d))-1 < domainInline }

func (t *Domains) home(d string) uint64 {
	if t.index != nil {
		return t.index(d) & t.mask
	}
	return maphash.String(t.seed, d) & t.mask
}

// homeOf is home for a stored key (maphash.Bytes hashes as String does).
func (t *Domains) homeOf(s *domainSlot) uint64 {
	if t.index != nil {
		return t.index(string(s.b[:s.n])) & t.mask
	}
	return maphash.Bytes(t.seed, s.b[:s.n]) & t.mask
}

func (s *domainSlot) holds(d string) bool {
	return int(s.n) == len(d) && string(s.b[:len(d)]) == d
}

// Get returns the stored TAT of domain d.
func (t *Domains) Get(d string) (int64, bool) {
	if !Inline(d) {
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

// Set stores the TAT of domain d.
func (t *Domains) Set(d string, tat int64) {
	if !Inline(d) {
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
func (t *Domains) Len() int { return t.n + len(t.long) }

func (t *Domains) resize(size int) {
	old, oldMem := t.slots, t.mem
	t.slots, t.mem = allocSlots[domainSlot](size)
	t.mask = uint64(size - 1)
	t.limit = size / 10 * maxLoad
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

// Sweep drops every bucket that is full at now (tat <= now), in place,
// as Sets.Sweep does, and shrinks the table when it is mostly empty.
func (t *Domains) Sweep(now int64) {
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

// Slots returns the number of slots (for prefetching and accounting).
func (t *Domains) Slots() int { return len(t.slots) }

// DomainSlotBytes is the size of one slot in memory.
const DomainSlotBytes = 64

// Reserve grows the table to hold n domains without growing again.
func (t *Domains) Reserve(n int) {
	size := len(t.slots)
	for size/10*maxLoad < n {
		size *= 2
	}
	if size > len(t.slots) {
		t.resize(size)
	}
}

// Sorted calls fn on every domain whose TAT keep accepts, in ascending
// bytewise order, and stops at fn's first error. d is valid only during
// the call. It needs 16 bytes of scratch per kept domain; fn must not
// change the table.
func (t *Domains) Sorted(keep func(tat int64) bool, fn func(d []byte, tat int64) error) error {
	var long []string
	for d, tat := range t.long {
		if keep(tat) {
			long = append(long, d)
		}
	}
	slices.Sort(long)
	type entry struct{ hi, i uint64 } // hi: the first 8 bytes, big-endian, zero-padded
	var ents []entry
	for i := range t.slots {
		s := &t.slots[i]
		if s.n != 0 && keep(s.tat) {
			var b [8]byte
			copy(b[:], s.b[:s.n])
			ents = append(ents, entry{binary.BigEndian.Uint64(b[:]), uint64(i)})
		}
	}
	slots := t.slots
	slices.SortFunc(ents, func(a, b entry) int {
		if c := cmp.Compare(a.hi, b.hi); c != 0 {
			return c
		}
		sa, sb := &slots[a.i], &slots[b.i]
		return bytes.Compare(sa.b[:sa.n], sb.b[:sb.n])
	})
	// Merge the two sorted lists; a domain is in one of them only.
	for len(ents) > 0 || len(long) > 0 {
		if len(ents) > 0 {
			s := &slots[ents[0].i]
			if len(long) == 0 || strings.Compare(string(s.b[:s.n]), long[0]) < 0 {
				if err := fn(s.b[:s.n], s.tat); err != nil {
					return err
				}
				ents = ents[1:]
				continue
			}
		}
		if err := fn([]byte(long[0]), t.long[long[0]]); err != nil {
			return err
		}
		long = long[1:]
	}
	return nil
}

// Count returns how many domains' TATs keep accepts.
func (t *Domains) Count(keep func(tat int64) bool) int {
	n := 0
	for _, tat := range t.long {
		if keep(tat) {
			n++
		}
	}
	for i := range t.slots {
		if s := &t.slots[i]; s.n != 0 && keep(s.tat) {
			n++
		}
	}
	return n
}
