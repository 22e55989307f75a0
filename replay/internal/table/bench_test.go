package table

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

// benchSets is the live exact sets at 10M orders of the realistic stream.
const benchSets = 2_000_000

func benchKeys(n int) [][32]byte {
	keys := make([][32]byte, n)
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
	order := make([][32]byte, 1<<20)
	x := uint64(1)
	for i := range order {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		order[i] = keys[x%benchSets]
	}
	t := NewSets()
	for i := range keys {
		k := KeyOf(&keys[i])
		s, _ := t.Find(&k)
		t.Insert(s, &k, SetState{TAT: int64(i)})
	}
	b.Run("table", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			k := KeyOf(&order[i&(len(order)-1)])
			s, ok := t.Find(&k)
			if !ok {
				b.Fatal("lost a key")
			}
			t.Update(s, SetState{TAT: s.TAT + 1})
		}
	})
	b.Run("table-prefetch", func(b *testing.B) {
		// As DecideBatch: prefetch the next window's home slots, then
		// look up the current window's.
		const warmWindow = 32
		var pf Prefetch
		for i := 0; i < b.N; i += warmWindow {
			for j := i + warmWindow; j < i+2*warmWindow; j++ {
				k := KeyOf(&order[j&(len(order)-1)])
				pf.SetHome(t, &k)
			}
			pf.Do()
			for j := i; j < min(i+warmWindow, b.N); j++ {
				k := KeyOf(&order[j&(len(order)-1)])
				s, ok := t.Find(&k)
				if !ok {
					b.Fatal("lost a key")
				}
				t.Update(s, SetState{TAT: s.TAT + 1})
			}
		}
	})
	b.Run("gomap", func(b *testing.B) {
		m := make(map[[32]byte]SetState)
		for i := range keys {
			m[keys[i]] = SetState{TAT: int64(i)}
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			k := &order[i&(len(order)-1)]
			s, ok := m[*k]
			if !ok {
				b.Fatal("lost a key")
			}
			s.TAT++
			m[*k] = s
		}
	})
	b.Run("insert", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if i%benchSets == 0 {
				b.StopTimer()
				t = NewSets()
				b.StartTimer()
			}
			k := KeyOf(&keys[i%benchSets])
			s, _ := t.Find(&k)
			t.Insert(s, &k, SetState{TAT: int64(i)})
		}
	})
}
