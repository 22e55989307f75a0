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
	"math"
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
// Why segments: a single array that doubles holds both copies while it
// rehashes; at Let's Encrypt's scale (tens of millions of live sets) that
// was 3 GB and 6 GB mapped at once, the whole run's peak memory. So the
// table is a directory of segments, by the top bits of the hash
// (extendible hashing): a segment grows by half until it reaches
// maxSegBytes, then splits in two, and only that one segment is ever held
// twice. Growing by half rather than doubling also keeps a segment between
// 47% and 70% full rather than 35% and 70%. A small table is one segment,
// one array, as before.
//
// A slot whose first key word is 0 is empty. The sets whose SetHash begins
// with eight zero bytes (never seen in practice, but possible) live in a
// small Go map, rare, instead.
type Sets struct {
	// dir maps the top depth bits of a key's hash to its segment; a
	// segment of depth l < depth has 2^(depth-l) consecutive entries.
	dir   []*setSeg
	depth uint
	segs  []*setSeg // each segment once, in the order they were made
	n     int       // occupied slots, all segments
	slots int       // slots, all segments
	seed  [4]uint64
	rare  map[[32]byte]SetState

	// index, when set (tests only), replaces the hash that picks a key's
	// segment (its top bits) and home slot (the rest), to force
	// collisions and wraparound; maxSlots, when set, replaces maxSegSlots
	// so that tests split small tables.
	index    func(k Key) uint64
	maxSlots int
	// rareSlot is where Find places a rare set's state for the caller.
	rareSlot SetSlot
	// absent is the slot Find returns in a segment that has no slots
	// yet; it stays zero (Insert grows the segment before it writes).
	absent SetSlot
}

// setSeg is one segment of a Sets: slots with linear probing that wraps
// around within the segment.
type setSeg struct {
	slots []SetSlot
	n     int      // occupied slots
	limit int      // the n at which the segment grows (load factor 0.7)
	depth uint     // how many top bits of the hash all its keys share
	mem   tableMem // the memory behind slots
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
	// maxSegBytes is the largest segment: big enough that a segment's
	// array is mostly huge pages, small enough that holding one twice
	// costs little.
	maxSegBytes = 64 << 20
	maxSegSlots = maxSegBytes / SlotBytes
	// maxDepth bounds the directory (2^16 segments of 64 MB: 4 TB); the
	// bits below the top maxDepth pick a key's home slot in its segment.
	maxDepth = 16
	// minSegSlots is a segment's size when it gets its first set.
	minSegSlots = 8
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
	seg := &setSeg{}
	t.dir, t.segs = []*setSeg{seg}, []*setSeg{seg}
	return t
}

// hash picks k's segment (its top bits) and its home slot in it (the
// bits below maxDepth). SHA-256 output is uniform, but an adversary
// choosing names could grind hashes into one cluster, so it is a seeded
// mix of all 256 bits.
func (t *Sets) hash(k *Key) uint64 {
	if t.index != nil {
		return t.index(*k)
	}
	hi, lo := bits.Mul64(k[0]^t.seed[0], k[1]^t.seed[1])
	hi2, lo2 := bits.Mul64(k[2]^t.seed[2], k[3]^t.seed[3])
	return hi ^ lo ^ hi2 ^ lo2
}

// segOf returns the segment of hash h. (A shift by 64, at depth 0, gives 0.)
func (t *Sets) segOf(h uint64) *setSeg { return t.dir[h>>(64-t.depth)] }

// home returns hash h's home slot in a segment of size slots: the bits
// below the directory's scaled to the size (a multiply, not a mask, as
// segments are not powers of two).
func home(h uint64, size int) int {
	hi, _ := bits.Mul64(h<<maxDepth, uint64(size))
	return int(hi)
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
	h := t.hash(k)
	slots := t.segOf(h).slots
	if len(slots) == 0 {
		return &t.absent, false
	}
	for i := home(h, len(slots)); ; {
		s := &slots[i]
		if s.Key[0] == k[0] && s.Key[1] == k[1] && s.Key[2] == k[2] && s.Key[3] == k[3] {
			return s, true
		}
		if s.Key[0] == 0 {
			return s, false
		}
		if i++; i == len(slots) {
			i = 0
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
	h := t.hash(k)
	seg := t.segOf(h)
	if seg.n+1 > seg.limit {
		// A split may leave k's half still full (keys that share more
		// top bits than the split used): grow until it has room.
		for seg.n+1 > seg.limit {
			t.grow(seg)
			seg = t.segOf(h)
		}
		s, _ = t.Find(k)
	}
	s.Key, s.SetState = *k, st
	seg.n++
	t.n++
}

// grow makes room in a full segment: it grows by half, or splits in two
// once it has reached the largest size.
func (t *Sets) grow(seg *setSeg) {
	size := max(minSegSlots, len(seg.slots)+len(seg.slots)/2)
	if size <= t.maxSegSlots() || seg.depth == maxDepth {
		t.resize(seg, size)
		return
	}
	t.split(seg)
}

func (t *Sets) maxSegSlots() int {
	if t.maxSlots != 0 {
		return t.maxSlots
	}
	return maxSegSlots
}

// split replaces seg by two segments, one for the keys whose next hash
// bit is 0 and one for 1, each 47% full (three quarters of seg's slots
// when the keys divide evenly), doubling the directory first when seg
// already uses all its bits.
func (t *Sets) split(seg *setSeg) {
	if seg.depth == t.depth {
		dir := make([]*setSeg, 2*len(t.dir))
		for i := range dir {
			dir[i] = t.dir[i>>1]
		}
		t.dir, t.depth = dir, t.depth+1
	}
	bit := 63 - seg.depth
	var count [2]int
	for i := range seg.slots {
		if s := &seg.slots[i]; s.Key[0] != 0 {
			count[t.hash(&s.Key)>>bit&1]++
		}
	}
	var halves [2]*setSeg
	for b := range halves {
		halves[b] = &setSeg{depth: seg.depth + 1}
		t.resize(halves[b], max(minSegSlots, count[b]*15/7+1))
	}
	for i := range seg.slots {
		if s := &seg.slots[i]; s.Key[0] != 0 {
			h := t.hash(&s.Key)
			halves[h>>bit&1].place(s, h)
		}
	}
	// seg's directory entries: 2^(depth-seg.depth) in a row, from its
	// hash prefix; the first half of them go to halves[0].
	span := 1 << (t.depth - seg.depth)
	first := 0
	for t.dir[first] != seg {
		first++
	}
	for i := range span {
		t.dir[first+i] = halves[i/(span/2)]
	}
	t.segs = slices.DeleteFunc(t.segs, func(s *setSeg) bool { return s == seg })
	t.segs = append(t.segs, halves[0], halves[1])
	t.slots -= len(seg.slots)
	seg.mem.release()
	*seg = setSeg{}
}

// place puts a slot's entry, whose hash is h, into seg, which has room.
func (seg *setSeg) place(s *SetSlot, h uint64) {
	j := home(h, len(seg.slots))
	for seg.slots[j].Key[0] != 0 {
		if j++; j == len(seg.slots) {
			j = 0
		}
	}
	seg.slots[j] = *s
	seg.n++
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
func (t *Sets) Slots() int { return t.slots }

// Segments returns the number of segments (for accounting and tests).
func (t *Sets) Segments() int { return len(t.segs) }

// SlotBytes is the size of one slot in memory.
const SlotBytes = 48

// Reserve makes room for about n sets without growing again: each
// segment for its share of n (by its depth) and a margin of four standard
// deviations, split first if that share is beyond a segment's size. A
// segment that gets more grows on its own.
func (t *Sets) Reserve(n int) {
	want := func(seg *setSeg) int {
		share := float64(n) / float64(uint64(1)<<seg.depth)
		return int((share + 4*math.Sqrt(share)) * 10 / maxLoad)
	}
	for i := 0; i < len(t.segs); {
		seg := t.segs[i]
		w := want(seg)
		switch {
		case w > t.maxSegSlots() && seg.depth < maxDepth:
			t.split(seg) // the halves are reserved in turn
		case w > len(seg.slots) && w > minSegSlots:
			t.resize(seg, w)
			i++
		default:
			i++
		}
	}
}

// resize moves every entry of seg into a new slot array of size slots
// (which holds them below the load limit, or 0 when seg is empty), then
// returns the old array's memory.
func (t *Sets) resize(seg *setSeg, size int) {
	old, oldMem := seg.slots, seg.mem
	t.slots += size - len(old)
	seg.slots, seg.mem, seg.limit, seg.n = nil, tableMem{}, 0, 0
	if size > 0 {
		seg.slots, seg.mem = allocSlots[SetSlot](size)
		seg.limit = min(size*maxLoad/10, size-1)
		for i := range old {
			if s := &old[i]; s.Key[0] != 0 {
				seg.place(s, t.hash(&s.Key))
			}
		}
	}
	oldMem.release()
	releaseWith(&seg.mem, t)
}

// Sweep drops every set whose bucket is full at now (TAT <= now) and whose
// last issuance can no longer make an order a renewal (LastNB <= cutoff),
// and shrinks the segments that are mostly empty (segments never merge:
// a directory entry costs 8 bytes).
//
// It deletes in place in one pass per segment. The pass starts just after
// an empty slot s0 and goes once around: no probe sequence crosses s0, so
// in that order every key's home is at or before its slot. Each kept key
// moves back to the first empty slot from its home; every slot between its
// home and its old place has already been settled by the pass, so
// afterwards no probe sequence has a hole.
func (t *Sets) Sweep(now, cutoff int64) {
	dead := func(s *SetState) bool { return s.TAT <= now && s.LastNB <= cutoff }
	for h, s := range t.rare {
		if dead(&s) {
			delete(t.rare, h)
		}
	}
	for _, seg := range t.segs {
		slots := seg.slots
		size := len(slots)
		if size == 0 {
			continue
		}
		s0 := 0
		for slots[s0].Key[0] != 0 {
			s0++ // the load limit keeps an empty slot
		}
		p := s0
		for range size - 1 {
			if p++; p == size {
				p = 0
			}
			s := &slots[p]
			if s.Key[0] == 0 {
				continue
			}
			if dead(&s.SetState) {
				*s = SetSlot{}
				seg.n--
				t.n--
				continue
			}
			for q := home(t.hash(&s.Key), size); q != p; {
				if slots[q].Key[0] == 0 {
					slots[q] = *s
					*s = SetSlot{}
					break
				}
				if q++; q == size {
					q = 0
				}
			}
		}
		// Shrink below 1/16 full, to 1/4 full: far enough from the load
		// limit that a segment does not shrink and grow back by turns.
		if seg.n == 0 {
			t.resize(seg, 0)
		} else if size > minSegSlots && seg.n < size/16 {
			t.resize(seg, max(minSegSlots, 4*seg.n))
		}
	}
}

// sortEntry is Sorted's scratch for one set: hi, the hash's first 8
// bytes, big-endian; at, the segment's number in the top bits and the
// slot's index below (a segment has fewer than 2^40 slots).
type sortEntry struct{ hi, at uint64 }

// Sorted calls fn on every set that keep accepts, in ascending bytewise
// order of SetHash, and stops at fn's first error. It needs 16 bytes of
// scratch per kept set (a key prefix and a slot's place), not a copy of
// the table; fn must not change the table.
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
	const atShift = 40
	slot := func(at uint64) *SetSlot { return &t.segs[at>>atShift].slots[at&(1<<atShift-1)] }
	// Sized exactly (at Let's Encrypt's scale, 50M live sets, growing by
	// append would hold two copies of 800 MB at once) and, when large,
	// mapped outside the Go heap and returned at once: a garbage slice
	// that size would stay until the collector's next cycle, and a
	// replay writing a state at each midnight would hold two.
	ents, mem := allocSlots[sortEntry](t.Count(keep) - len(rare))
	defer mem.release()
	ents = ents[:0]
	for g, seg := range t.segs {
		for i := range seg.slots {
			if s := &seg.slots[i]; s.Key[0] != 0 && keep(&s.SetState) {
				ents = append(ents, sortEntry{bits.ReverseBytes64(s.Key[0]), uint64(g)<<atShift | uint64(i)})
			}
		}
	}
	slices.SortFunc(ents, func(a, b sortEntry) int {
		if c := cmp.Compare(a.hi, b.hi); c != 0 {
			return c
		}
		ka, kb := &slot(a.at).Key, &slot(b.at).Key
		for w := 1; w < 4; w++ {
			if c := cmp.Compare(bits.ReverseBytes64(ka[w]), bits.ReverseBytes64(kb[w])); c != 0 {
				return c
			}
		}
		return 0
	})
	for _, e := range ents {
		s := slot(e.at)
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
	for _, seg := range t.segs {
		for i := range seg.slots {
			if s := &seg.slots[i]; s.Key[0] != 0 && keep(&s.SetState) {
				n++
			}
		}
	}
	return n
}
