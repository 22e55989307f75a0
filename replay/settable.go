package replay

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"runtime"
)

// setTable holds the per-exact-set state of a token-bucket Replayer: an
// open-addressing hash table with linear probing, keyed by the full 32-byte
// SetHash (compared in full, so it is exact).
//
// Why not a Go map: at realistic scale (millions of live sets, hundreds of
// MB) every lookup is a cache and TLB miss. This table costs one slot (48
// bytes, usually one cache line) per lookup, its slots live in memory that
// gets transparent huge pages on Linux (settable_linux.go), and Replayer's
// batch API can prefetch many orders' slots at once (DecideBatch).
//
// A slot whose first key word is 0 is empty. The sets whose SetHash begins
// with eight zero bytes (never seen in practice, but possible) live in a
// small Go map, rare, instead.
type setTable struct {
	slots []setSlot // len is a power of two
	mask  uint64    // len(slots) - 1
	n     int       // occupied slots
	limit int       // the n at which the table grows (load factor 0.7)
	seed  [4]uint64
	rare  map[SetHash]setState
	mem   tableMem // the memory behind slots

	// index, when set (tests only), replaces the hash that picks a key's
	// home slot, to force collisions and wraparound.
	index func(k setKey) uint64
	// rareSlot is where find places a rare set's state for the caller.
	rareSlot setSlot
}

// setKey is a SetHash as four little-endian words.
type setKey [4]uint64

type setSlot struct {
	key setKey
	setState
}

const (
	minSetTableSize = 1 << 8
	// A table whose slots take at least this many bytes is mapped outside
	// the Go heap, with huge pages where the OS offers them.
	mmapMinBytes = 4 << 20
)

func keyOf(h *SetHash) setKey {
	return setKey{
		binary.LittleEndian.Uint64(h[0:8]),
		binary.LittleEndian.Uint64(h[8:16]),
		binary.LittleEndian.Uint64(h[16:24]),
		binary.LittleEndian.Uint64(h[24:32]),
	}
}

func (k *setKey) hash() SetHash {
	var h SetHash
	for i, w := range k {
		binary.LittleEndian.PutUint64(h[8*i:], w)
	}
	return h
}

func newSetTable() *setTable {
	t := &setTable{}
	for i := range t.seed {
		t.seed[i] = rand.Uint64()
	}
	t.resize(minSetTableSize)
	return t
}

// home is the slot where k's probe starts. SHA-256 output is uniform, but
// an adversary choosing names could grind hashes into one cluster, so the
// index is a seeded mix of all 256 bits.
func (t *setTable) home(k *setKey) uint64 {
	if t.index != nil {
		return t.index(*k) & t.mask
	}
	hi, lo := bits.Mul64(k[0]^t.seed[0], k[1]^t.seed[1])
	hi2, lo2 := bits.Mul64(k[2]^t.seed[2], k[3]^t.seed[3])
	return (hi ^ lo ^ hi2 ^ lo2) & t.mask
}

// find returns the slot holding k and true, or false and the slot where
// insert would place k. The slot stays valid until the next insert or
// sweep.
func (t *setTable) find(k *setKey) (*setSlot, bool) {
	if k[0] == 0 {
		s, ok := t.rare[k.hash()]
		t.rareSlot = setSlot{key: *k, setState: s}
		return &t.rareSlot, ok
	}
	slots, mask := t.slots, t.mask
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &slots[i]
		if s.key[0] == k[0] && s.key[1] == k[1] && s.key[2] == k[2] && s.key[3] == k[3] {
			return s, true
		}
		if s.key[0] == 0 {
			return s, false
		}
	}
}

// insert stores a new key with its state into s, the slot find returned
// for it with false; nothing else may have been inserted since.
func (t *setTable) insert(s *setSlot, k *setKey, st setState) {
	if k[0] == 0 {
		if t.rare == nil {
			t.rare = make(map[SetHash]setState)
		}
		t.rare[k.hash()] = st
		return
	}
	if t.n+1 > t.limit {
		t.resize(2 * len(t.slots))
		s, _ = t.find(k)
	}
	s.key, s.setState = *k, st
	t.n++
}

// update stores the state of a key that find found in s.
func (t *setTable) update(s *setSlot, st setState) {
	if s == &t.rareSlot {
		t.rare[s.key.hash()] = st
		return
	}
	s.setState = st
}

// Len returns the number of sets held.
func (t *setTable) Len() int { return t.n + len(t.rare) }

// resize moves every entry into a new slot array of size slots (a power of
// two that holds them below the load limit).
func (t *setTable) resize(size int) {
	old, oldMem := t.slots, t.mem
	t.slots, t.mem = allocSlots[setSlot](size)
	t.mask = uint64(size - 1)
	t.limit = size / 10 * 7
	if size < 10 {
		t.limit = size - 1
	}
	for i := range old {
		s := &old[i]
		if s.key[0] == 0 {
			continue
		}
		j := t.home(&s.key)
		for t.slots[j].key[0] != 0 {
			j = (j + 1) & t.mask
		}
		t.slots[j] = *s
	}
	oldMem.release()
	releaseWith(&t.mem, t)
}

// sweep drops every set whose bucket is full at now (tat <= now) and whose
// last issuance can no longer make an order a renewal (lastNB <= cutoff),
// and shrinks the table when it is mostly empty.
//
// It deletes in place in one pass. The pass starts just after an empty
// slot s0 and goes once around: no probe sequence crosses s0, so in that
// order every key's home is at or before its slot. Each kept key moves
// back to the first empty slot from its home; every slot between its home
// and its old place has already been settled by the pass, so afterwards
// no probe sequence has a hole.
func (t *setTable) sweep(now, cutoff int64) {
	dead := func(s *setState) bool { return s.tat <= now && s.lastNB <= cutoff }
	for h, s := range t.rare {
		if dead(&s) {
			delete(t.rare, h)
		}
	}
	slots, mask := t.slots, t.mask
	s0 := uint64(0)
	for slots[s0].key[0] != 0 {
		s0++ // the load limit keeps an empty slot
	}
	for step := uint64(1); step <= mask; step++ {
		p := (s0 + step) & mask
		s := &slots[p]
		if s.key[0] == 0 {
			continue
		}
		if dead(&s.setState) {
			*s = setSlot{}
			t.n--
			continue
		}
		for q := t.home(&s.key); q != p; q = (q + 1) & mask {
			if slots[q].key[0] == 0 {
				slots[q] = *s
				*s = setSlot{}
				break
			}
		}
	}
	// Shrink below 1/16 full, to at most 1/4 full: far enough from the
	// load limit that a table does not shrink and grow back by turns.
	if len(t.slots) > minSetTableSize && t.n < len(t.slots)/16 {
		size := len(t.slots)
		for size > minSetTableSize && t.n < size/8 {
			size /= 2
		}
		t.resize(size)
	}
}

// tableMem is the memory behind a slot array that did not come from the
// Go heap (see allocSlots), or the zero tableMem.
type tableMem struct {
	mapped  []byte
	cleanup *runtime.Cleanup
}

// releaseWith arranges for the memory to be returned when owner is
// collected.
func releaseWith[T any](m *tableMem, owner *T) {
	if m.mapped == nil {
		return
	}
	c := runtime.AddCleanup(owner, unmapSlots, m.mapped)
	m.cleanup = &c
}

// release returns the memory now and cancels the cleanup.
func (m tableMem) release() {
	if m.mapped == nil {
		return
	}
	if m.cleanup != nil {
		m.cleanup.Stop()
	}
	unmapSlots(m.mapped)
}
