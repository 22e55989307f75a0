package table

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// SetsModel runs random inserts, updates, lookups and sweeps on a
// Sets and a Go map side by side and checks they always agree.
func SetsModel(t *testing.T, tb *Sets, keys [][32]byte, rounds int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	ref := map[[32]byte]SetState{}
	check := func(when string) {
		t.Helper()
		if tb.Len() != len(ref) {
			t.Fatalf("%s: Len %d, want %d", when, tb.Len(), len(ref))
		}
		for i := range keys {
			k := KeyOf(&keys[i])
			s, ok := tb.Find(&k)
			want, wantOK := ref[keys[i]]
			if ok != wantOK || (ok && s.SetState != want) {
				t.Fatalf("%s: key %d: got %+v %v, want %+v %v", when, i, s.SetState, ok, want, wantOK)
			}
		}
	}
	now := int64(0)
	for round := range rounds {
		for range 4 * len(keys) {
			h := keys[rng.IntN(len(keys))]
			k := KeyOf(&h)
			// TATs and NotBefores spread so that a sweep drops about
			// half of the sets: enough holes, too few to shrink.
			span := int64(8 * len(keys))
			st := SetState{TAT: now + rng.Int64N(span), LastNB: now - rng.Int64N(span)}
			s, ok := tb.Find(&k)
			if _, want := ref[h]; ok != want {
				t.Fatalf("round %d: find says %v, want %v", round, ok, want)
			}
			if ok {
				tb.Update(s, st)
			} else {
				tb.Insert(s, &k, st)
			}
			ref[h] = st
			now++
		}
		check(fmt.Sprintf("round %d, after inserts", round))
		cutoff := now - int64(4*len(keys)) - rng.Int64N(int64(4*len(keys)))
		tb.Sweep(now, cutoff)
		for h, s := range ref {
			if s.TAT <= now && s.LastNB <= cutoff {
				delete(ref, h)
			}
		}
		check(fmt.Sprintf("round %d, after sweep", round))
	}
	// Everything expires: the table empties and shrinks.
	tb.Sweep(now+int64(16*len(keys)), now)
	clear(ref)
	check("after the last sweep")
	if tb.Slots() != 0 {
		t.Errorf("an empty table kept %d slots", tb.Slots())
	}
}

func setKeys(n int, rare int) [][32]byte {
	keys := benchKeys(n)
	for i := range rare {
		// Keys whose first word is zero, which a slot cannot hold.
		clear(keys[i][:8])
	}
	return keys
}

func TestSetTableMatchesAMap(t *testing.T) {
	t.Parallel()
	SetsModel(t, NewSets(), setKeys(5000, 3), 6)
}

// TestSetTableCollisions forces keys onto few home slots, at the end of
// the array so that probes wrap around, to exercise probing, growth and
// the in-place sweep's relocation.
func TestSetTableCollisions(t *testing.T) {
	t.Parallel()
	for _, homes := range []uint64{1, 3, 17} {
		t.Run(fmt.Sprint(homes), func(t *testing.T) {
			t.Parallel()
			tb := NewSets()
			tb.index = func(k Key) uint64 { return ^(k[1] % homes) } // the last slots
			SetsModel(t, tb, setKeys(700, 2), 5)
		})
	}
}

// TestSetTableSplits runs the model on a table whose segments split at 64
// slots, so that the directory doubles and segments of every depth hold
// keys, and also with keys that collide in their top hash bits, so that
// splitting cannot separate them (a segment at the deepest level grows
// instead).
func TestSetTableSplits(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"uniform", "colliding"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tb := NewSets()
			tb.maxSlots = 64
			if name == "colliding" {
				tb.index = func(k Key) uint64 { return ^(k[1] % 5) }
			}
			SetsModel(t, tb, setKeys(3000, 2), 4)
			if tb.Segments() < 2 {
				t.Fatalf("%d segments after 3000 keys in segments of 64 slots", tb.Segments())
			}
		})
	}
}

// TestSetTableReserveSplits checks that reserving room for more sets than
// one segment holds splits first, and that the reserved table then takes
// its sets without growing.
func TestSetTableReserveSplits(t *testing.T) {
	t.Parallel()
	tb := NewSets()
	tb.maxSlots = 1000
	keys := setKeys(20_000, 0)
	tb.Reserve(len(keys))
	segs, slots := tb.Segments(), tb.Slots()
	if segs < 32 {
		t.Fatalf("Reserve(%d) with 1000-slot segments made %d segments", len(keys), segs)
	}
	for i := range keys {
		k := KeyOf(&keys[i])
		tb.Put(&k, SetState{TAT: int64(i)})
	}
	if tb.Segments() != segs || tb.Slots() != slots {
		t.Fatalf("after reserving: %d segments, %d slots; after the inserts %d, %d", segs, slots, tb.Segments(), tb.Slots())
	}
	if tb.Len() != len(keys) {
		t.Fatalf("Len %d, want %d", tb.Len(), len(keys))
	}
}

func TestSetTableGrowsInHugeMemory(t *testing.T) {
	t.Parallel()
	tb := NewSets()
	keys := setKeys(200_000, 0) // 48 bytes * 512Ki slots: mapped, not heap
	for i := range keys {
		k := KeyOf(&keys[i])
		s, ok := tb.Find(&k)
		if ok {
			t.Fatalf("key %d found before it was inserted", i)
		}
		tb.Insert(s, &k, SetState{TAT: int64(i), LastNB: int64(-i)})
	}
	if tb.Len() != len(keys) || float64(tb.n) > 0.7*float64(tb.Slots()) {
		t.Fatalf("%d keys in %d slots, Len %d", tb.n, tb.Slots(), tb.Len())
	}
	for i := range keys {
		k := KeyOf(&keys[i])
		s, ok := tb.Find(&k)
		if !ok || s.TAT != int64(i) || s.LastNB != int64(-i) {
			t.Fatalf("key %d: %+v %v", i, s.SetState, ok)
		}
	}
	// Every bucket is full at now; only the issuances after the cutoff
	// (the first 1000 keys) are kept.
	tb.Sweep(int64(len(keys)), -1000)
	for i := range keys {
		k := KeyOf(&keys[i])
		_, ok := tb.Find(&k)
		if want := i < 1000; ok != want {
			t.Fatalf("after sweep, key %d found %v, want %v", i, ok, want)
		}
	}
}

func TestDomainTableMatchesAMap(t *testing.T) {
	t.Parallel()
	for _, homes := range []uint64{0, 1, 5} {
		t.Run(fmt.Sprint(homes), func(t *testing.T) {
			t.Parallel()
			tb := NewDomains()
			n := 5000
			if homes > 0 {
				n = 600
				tb.index = func(d string) uint64 { return ^(uint64(len(d)) % homes) }
			}
			var domains []string
			for i := range n {
				domains = append(domains, fmt.Sprintf("d%d.example", i))
			}
			// Lengths around the inline limit, and the empty key.
			domains = append(domains, "", strings.Repeat("a", domainInline-1), strings.Repeat("b", domainInline),
				strings.Repeat("c", domainInline+1), strings.Repeat("d", 300))
			rng := rand.New(rand.NewPCG(3, 4))
			ref := map[string]int64{}
			check := func(when string) {
				t.Helper()
				if tb.Len() != len(ref) {
					t.Fatalf("%s: Len %d, want %d", when, tb.Len(), len(ref))
				}
				for _, d := range domains {
					tat, ok := tb.Get(d)
					want, wantOK := ref[d]
					if ok != wantOK || tat != want {
						t.Fatalf("%s: %q: got %d %v, want %d %v", when, d, tat, ok, want, wantOK)
					}
				}
			}
			now := int64(0)
			for round := range 6 {
				for range 4 * len(domains) {
					d := domains[rng.IntN(len(domains))]
					tat := now + rng.Int64N(int64(8*len(domains)))
					tb.Set(d, tat)
					ref[d] = tat
					now++
				}
				check(fmt.Sprintf("round %d, after sets", round))
				tb.Sweep(now)
				for d, tat := range ref {
					if tat <= now {
						delete(ref, d)
					}
				}
				check(fmt.Sprintf("round %d, after sweep", round))
			}
			tb.Sweep(now + int64(16*len(domains)))
			clear(ref)
			check("after the last sweep")
			if len(tb.slots) != minDomainTableSize {
				t.Errorf("an empty table kept %d slots", len(tb.slots))
			}
		})
	}
}
