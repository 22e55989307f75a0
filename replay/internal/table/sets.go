// Package table is the storage engine of the replay model: the two big
// open-addressing hash tables (exact sets, per-domain buckets) in memory
// mapped outside the Go heap with huge pages, and the CPU prefetch that
// DecideBatch uses. Everything that needs unsafe, syscall or assembly
// lives here, so that package replay itself stays pure Go that does no
// I/O (checked by replay's TestReplayIsPure).
//
// The tables store what they are given and decide nothing: which entries
// are live is the replay model's business (Sweep takes the model's
// cut-offs).
package table

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
)

// Sets holds the per-exact-set state of a token-bucket Replayer: an
// open-addressing hash table with linear probing, keyed by the full 32-byte
// SetHash (compared in full, so it is exact).
//
// Why not a Go map: at realistic scale (millions of live sets, hundreds of
// MB) every lookup is a cache and TLB miss. This table costs one slot (48
// bytes, usually one cache line) per lookup, its slots live in memory that
// gets transparent huge pages on Linux (mem_linux.go), and Replayer's
// batch API can prefetch many orders' slots at once (DecideBatch).
//
// A slot whose first key word is 0 is empty. The sets whose SetHash begins
// with eight zero bytes (never seen in practice, but possible) live in a
// small Go map, rare, instead.
type Sets struct {
	slots []SetSlot // len is a power of two
	mask  uint64    // len(slots) - 1
	n     int       // occupied slots
	limit int       // the n at which the table grows (load factor 0.7)
	seed  [4]uint64
	rare  map[[32]byte]SetState
	mem   tableMem // the memory behind slots

	// index, when set (tests only), replaces the hash that picks a key's
	// home slot, to force collisions and wraparound.
	index func(k Key) uint64
	// rareSlot is where Find places a rare set's state for the caller.
	rareSlot SetSlot
}

// Key is a SetHash as four little-endian words.
type Key [4]uint64

// SetState is what the model keeps per exact set.
type SetState struct {
	TAT    int64 // CertificatesPerFQDNSet TAT; <= now means full
	LastNB int64 // newest NotBefore issued for the set
}

// SetSlot is one slot of a Sets table.
type SetSlot struct {
	Key Key
	SetState
}

const (
	minSetTableSize = 1 << 8
	// A table whose slots take at least this many bytes is mapped outside
	// the Go heap, with huge pages where the OS offers them.
	mmapMinBytes = 4 << 20
	// maxLoad is the load factor, in tenths, at which a table grows.
	maxLoad = 7
)

// KeyOf returns the key of a SetHash.
func KeyOf(h *[32]byte) Key {
	return Key{
		binary.LittleEndian.Uint64(h[0:8]),
		binary.LittleEndian.Uint64(h[8:16]),
		binary.LittleEndian.Uint64(h[16:24]),
		binary.LittleEndian.Uint64(h[24:32]),
	}
}

// Hash returns the SetHash of a key.
func (k *Key) Hash() [32]byte {
	var h [32]byte
	for i, w := range k {
		binary.LittleEndian.PutUint64(h[8*i:], w)
	}
	return h
}

// NewSets returns an empty table.
func NewSets() *Sets {
	t := &Sets{}
	for i := range t.seed {
		t.seed[i] = rand.Uint64()
	}
	t.resize(minSetTableSize)
	return t
}

// home is the slot where k's probe starts. SHA-256 output is uniform, but
// an adversary choosing names could grind hashes into one cluster, so the
// index is a seeded mix of all 256 bits.
func (t *Sets) home(k *Key) uint64 {
	if t.index != nil {
		return t.index(*k) & t.mask
	}
	hi, lo := bits.Mul64(k[0]^t.seed[0], k[1]^t.seed[1])
	hi2, lo2 := bits.Mul64(k[2]^t.seed[2], k[3]^t.seed[3])
	return (hi ^ lo ^ hi2 ^ lo2) & t.mask
}

// Find returns the slot holding k and true, or false and the slot where
// Insert would place k. The slot stays valid until the next Insert or
// Sweep.
func (t *Sets) Find(k *Key) (*SetSlot, bool) {
	if k[0] == 0 {
		s, ok := t.rare[k.Hash()]
		t.rareSlot = SetSlot{Key: *k, SetState: s}
		return &t.rareSlot, ok
	}
	slots, mask := t.slots, t.mask
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &slots[i]
		if s.Key[0] == k[0] && s.Key[1] == k[1] && s.Key[2] == k[2] && s.Key[3] == k[3] {
			return s, true
		}
		if s.Key[0] == 0 {
			return s, false
		}
	}
}

// Insert stores a new key with its state into s, the slot Find returned
// for it with false; nothing else may have been inserted since.
func (t *Sets) Insert(s *SetSlot, k *Key, st SetState) {
	if k[0] == 0 {
		if t.rare == nil {
			t.rare = make(map[[32]byte]SetState)
		}
		t.rare[k.Hash()] = st
		return
	}
	if t.n+1 > t.limit {
		t.resize(2 * len(t.slots))
		s, _ = t.Find(k)
	}
	s.Key, s.SetState = *k, st
	t.n++
}

// Update stores the state of a key that Find found in s.
func (t *Sets) Update(s *SetSlot, st SetState) {
	if s == &t.rareSlot {
		t.rare[s.Key.Hash()] = st
		return
	}
	s.SetState = st
}

// Put stores the state of k, found or not.
func (t *Sets) Put(k *Key, st SetState) {
	if s, ok := t.Find(k); ok {
		t.Update(s, st)
	} else {
		t.Insert(s, k, st)
	}
}

// Len returns the number of sets held.
func (t *Sets) Len() int { return t.n + len(t.rare) }

// Slots returns the number of slots (for prefetching and accounting).
func (t *Sets) Slots() int { return len(t.slots) }

// SlotBytes is the size of one slot in memory.
const SlotBytes = 48

// Reserve grows the table to hold n sets without growing again.
func (t *Sets) Reserve(n int) {
	size := len(t.slots)
	for size/10*maxLoad < n {
		size *= 2
	}
	if size > len(t.slots) {
		t.resize(size)
	}
}

// resize moves every entry into a new slot array of size slots (a power of
// two that holds them below the load limit).
func (t *Sets) resize(size int) {
	old, oldMem := t.slots, t.mem
	t.slots, t.mem = allocSlots[SetSlot](size)
	t.mask = uint64(size - 1)
	t.limit = size / 10 * maxLoad
	if size < 10 {
		t.limit = size - 1
	}
	for i := range old {
		s := &old[i]
		if s.Key[0] == 0 {
			continue
		}
		j := t.home(&s.Key)
		for t.slots[j].Key[0] != 0 {
			j = (j + 1) & t.mask
		}
		t.slots[j] = *s
	}
	oldMem.release()
	releaseWith(&t.mem, t)
}

// Sweep drops every set whose bucket is full at now (TAT <= now) and whose
// last issuance can no longer make an order a renewal (LastNB <= cutoff),
// and shrinks the table when it is mostly empty.
//
// It deletes in place in one pass. The pass starts just after an empty
// slot s0 and goes once around: no probe sequence crosses s0, so in that
// order every key's home is at or before its slot. Each kept key moves
// back to the first empty slot from its home; every slot between its home
// and its old place has already been settled by the pass, so afterwards
// no probe sequence has a hole.
func (t *Sets) Sweep(now, cutoff int64) {
	dead := func(s *SetState) bool { return s.TAT <= now && s.LastNB <= cutoff }
	for h, s := range t.rare {
		if dead(&s) {
			delete(t.rare, h)
		}
	}
	slots, mask := t.slots, t.mask
	s0 := uint64(0)
	for slots[s0].Key[0] != 0 {
		s0++ // the load limit keeps an empty slot
	}
	for step := uint64(1); step <= mask; step++ {
		p := (s0 + step) & mask
		s := &slots[p]
		if s.Key[0] == 0 {
			continue
		}
		if dead(&s.SetState) {
			*s = SetSlot{}
			t.n--
			continue
		}
		for q := t.home(&s.Key); q != p; q = (q + 1) & mask {
			if slots[q].Key[0] == 0 {
				slots[q] = *s
				*s = SetSlot{}
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

// Sorted calls fn on every set that keep accepts, in ascending bytewise
// order of SetHash, and stops at fn's first error. It needs 16 bytes of
// scratch per kept set (a key prefix and a slot index), not a copy of the
// table; fn must not change the table.
func (t *Sets) Sorted(keep func(*SetState) bool, fn func(h *[32]byte, st SetState) error) error {
	// The rare sets' hashes begin with eight zero bytes: before any slot's.
	var rare [][32]byte
	for h, s := range t.rare {
		if keep(&s) {
			rare = append(rare, h)
		}
	}
	slices.SortFunc(rare, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	for i := range rare {
		if err := fn(&rare[i], t.rare[rare[i]]); err != nil {
			return err
		}
	}
	type entry struct{ hi, i uint64 } // hi: the hash's first 8 bytes, big-endian
	// Sized exactly: at Let's Encrypt's scale (50M live sets) growing by
	// append would hold two copies of 800 MB at once.
	n := 0
	for i := range t.slots {
		if s := &t.slots[i]; s.Key[0] != 0 && keep(&s.SetState) {
			n++
		}
	}
	ents := make([]entry, 0, n)
	for i := range t.slots {
		s := &t.slots[i]
		if s.Key[0] != 0 && keep(&s.SetState) {
			ents = append(ents, entry{bits.ReverseBytes64(s.Key[0]), uint64(i)})
		}
	}
	slots := t.slots
	slices.SortFunc(ents, func(a, b entry) int {
		if c := cmp.Compare(a.hi, b.hi); c != 0 {
			return c
		}
		ka, kb := &slots[a.i].Key, &slots[b.i].Key
		for w := 1; w < 4; w++ {
			if c := cmp.Compare(bits.ReverseBytes64(ka[w]), bits.ReverseBytes64(kb[w])); c != 0 {
				return c
			}
		}
		return 0
	})
	for _, e := range ents {
		s := &slots[e.i]
		h := s.Key.Hash()
		if err := fn(&h, s.SetState); err != nil {
			return err
		}
	}
	return nil
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

// Count returns how many sets keep accepts.
func (t *Sets) Count(keep func(*SetState) bool) int {
	n := 0
	for _, s := range t.rare {
		if keep(&s) {
			n++
		}
	}
	for i := range t.slots {
		if s := &t.slots[i]; s.Key[0] != 0 && keep(&s.SetState) {
			n++
		}
	}
	return n
}
