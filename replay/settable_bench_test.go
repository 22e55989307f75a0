package replay

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"unsafe"
)

// benchSets is the live exact sets at 10M orders of the realistic stream.
const benchSets = 2_000_000

func benchKeys(n int) []SetHash {
	keys := make([]SetHash, n)
	var b [8]byte
	for i := range keys {
		binary.LittleEndian.PutUint64(b[:], uint64(i))
		keys[i] = sha256.Sum256(b[:])
	}
	return keys
}

// BenchmarkSetTable measures one lookup-and-update of a random live set in
// a table of benchSets sets, one by one and with DecideBatch's warm-up,
// against the Go map it replaced.
func BenchmarkSetTable(b *testing.B) {
	keys := benchKeys(benchSets)
	// Lookups in a random order, as orders arrive, read in sequence as
	// Prepared orders are.
	order := make([]SetHash, 1<<20)
	x := uint64(1)
	for i := range order {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		order[i] = keys[x%benchSets]
	}
	t := newSetTable()
	for i := range keys {
		k := keyOf(&keys[i])
		s, _ := t.find(&k)
		t.insert(s, &k, setState{tat: int64(i)})
	}
	b.Run("table", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			k := keyOf(&order[i&(len(order)-1)])
			s, ok := t.find(&k)
			if !ok {
				b.Fatal("lost a key")
			}
			t.update(s, setState{tat: s.tat + 1})
		}
	})
	b.Run("table-prefetch", func(b *testing.B) {
		// As DecideBatch: prefetch the next window's home slots, then
		// look up the current window's.
		var addrs [2 * warmWindow]uintptr
		for i := 0; i < b.N; i += warmWindow {
			n := 0
			for j := i + warmWindow; j < i+2*warmWindow; j++ {
				k := keyOf(&order[j&(len(order)-1)])
				s := &t.slots[t.home(&k)]
				addrs[n], addrs[n+1] = uintptr(unsafe.Pointer(&s.key)), uintptr(unsafe.Pointer(&s.lastNB))
				n += 2
			}
			prefetch(addrs[:n])
			for j := i; j < min(i+warmWindow, b.N); j++ {
				k := keyOf(&order[j&(len(order)-1)])
				s, ok := t.find(&k)
				if !ok {
					b.Fatal("lost a key")
				}
				t.update(s, setState{tat: s.tat + 1})
			}
		}
	})
	b.Run("gomap", func(b *testing.B) {
		m := make(map[SetHash]setState)
		for i := range keys {
			m[keys[i]] = setState{tat: int64(i)}
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			k := &order[i&(len(order)-1)]
			s, ok := m[*k]
			if !ok {
				b.Fatal("lost a key")
			}
			s.tat++
			m[*k] = s
		}
	})
	b.Run("insert", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if i%benchSets == 0 {
				b.StopTimer()
				t = newSetTable()
				b.StartTimer()
			}
			k := keyOf(&keys[i%benchSets])
			s, _ := t.find(&k)
			t.insert(s, &k, setState{tat: int64(i)})
		}
	})
}
