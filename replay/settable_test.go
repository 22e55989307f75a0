package replay

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// setTableModel runs random inserts, updates, lookups and sweeps on a
// setTable and a Go map side by side and checks they always agree.
func setTableModel(t *testing.T, tb *setTable, keys []SetHash, rounds int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	ref := map[SetHash]setState{}
	check := func(when string) {
		t.Helper()
		if tb.Len() != len(ref) {
			t.Fatalf("%s: Len %d, want %d", when, tb.Len(), len(ref))
		}
		for i := range keys {
			k := keyOf(&keys[i])
			s, ok := tb.find(&k)
			want, wantOK := ref[keys[i]]
			if ok != wantOK || (ok && s.setState != want) {
				t.Fatalf("%s: key %d: got %+v %v, want %+v %v", when, i, s.setState, ok, want, wantOK)
			}
		}
	}
	now := int64(0)
	for round := range rounds {
		for range 4 * len(keys) {
			h := keys[rng.IntN(len(keys))]
			k := keyOf(&h)
			// TATs and NotBefores spread so that a sweep drops about
			// half of the sets: enough holes, too few to shrink.
			span := int64(8 * len(keys))
			st := setState{tat: now + rng.Int64N(span), lastNB: now - rng.Int64N(span)}
			s, ok := tb.find(&k)
			if _, want := ref[h]; ok != want {
				t.Fatalf("round %d: find says %v, want %v", round, ok, want)
			}
			if ok {
				tb.update(s, st)
			} else {
				tb.insert(s, &k, st)
			}
			ref[h] = st
			now++
		}
		check(fmt.Sprintf("round %d, after inserts", round))
		cutoff := now - int64(4*len(keys)) - rng.Int64N(int64(4*len(keys)))
		tb.sweep(now, cutoff)
		for h, s := range ref {
			if s.tat <= now && s.lastNB <= cutoff {
				delete(ref, h)
			}
		}
		check(fmt.Sprintf("round %d, after sweep", round))
	}
	// Everything expires: the table empties and shrinks.
	tb.sweep(now+int64(16*len(keys)), now)
	clear(ref)
	check("after the last sweep")
	if len(tb.slots) != minSetTableSize {
		t.Errorf("an empty table kept %d slots", len(tb.slots))
	}
}

func setKeys(n int, rare int) []SetHash {
	keys := benchKeys(n)
	for i := range rare {
		// Keys whose first word is zero, which a slot cannot hold.
		clear(keys[i][:8])
	}
	return keys
}

func TestSetTableMatchesAMap(t *testing.T) {
	t.Parallel()
	setTableModel(t, newSetTable(), setKeys(5000, 3), 6)
}

// TestSetTableCollisions forces keys onto few home slots, at the end of
// the array so that probes wrap around, to exercise probing, growth and
// the in-place sweep's relocation.
func TestSetTableCollisions(t *testing.T) {
	t.Parallel()
	for _, homes := range []uint64{1, 3, 17} {
		t.Run(fmt.Sprint(homes), func(t *testing.T) {
			t.Parallel()
			tb := newSetTable()
			tb.index = func(k setKey) uint64 { return ^(k[1] % homes) } // the last slots
			setTableModel(t, tb, setKeys(700, 2), 5)
		})
	}
}

func TestSetTableGrowsInHugeMemory(t *testing.T) {
	t.Parallel()
	tb := newSetTable()
	keys := setKeys(200_000, 0) // 48 bytes * 512Ki slots: mapped, not heap
	for i := range keys {
		k := keyOf(&keys[i])
		s, ok := tb.find(&k)
		if ok {
			t.Fatalf("key %d found before it was inserted", i)
		}
		tb.insert(s, &k, setState{tat: int64(i), lastNB: int64(-i)})
	}
	if tb.Len() != len(keys) || float64(tb.n) > 0.7*float64(len(tb.slots)) {
		t.Fatalf("%d keys in %d slots, Len %d", tb.n, len(tb.slots), tb.Len())
	}
	for i := range keys {
		k := keyOf(&keys[i])
		s, ok := tb.find(&k)
		if !ok || s.tat != int64(i) || s.lastNB != int64(-i) {
			t.Fatalf("key %d: %+v %v", i, s.setState, ok)
		}
	}
	// Every bucket is full at now; only the issuances after the cutoff
	// (the first 1000 keys) are kept.
	tb.sweep(int64(len(keys)), -1000)
	for i := range keys {
		k := keyOf(&keys[i])
		_, ok := tb.find(&k)
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
			tb := newDomainTable()
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
					tat, ok := tb.get(d)
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
					tb.set(d, tat)
					ref[d] = tat
					now++
				}
				check(fmt.Sprintf("round %d, after sets", round))
				tb.sweep(now)
				for d, tat := range ref {
					if tat <= now {
						delete(ref, d)
					}
				}
				check(fmt.Sprintf("round %d, after sweep", round))
			}
			tb.sweep(now + int64(16*len(domains)))
			clear(ref)
			check("after the last sweep")
			if len(tb.slots) != minDomainTableSize {
				t.Errorf("an empty table kept %d slots", len(tb.slots))
			}
		})
	}
}

// TestDecideBatchEqualsDecide replays a stream both ways, with
// DecideBatch prefetching at every size. Not parallel: it sets a global.
func TestDecideBatchEqualsDecide(t *testing.T) {
	defer func(n int) { warmMinSlots = n }(warmMinSlots)
	warmMinSlots = 0
	p, err := LookupPolicy("letsencrypt")
	if err != nil {
		t.Fatal(err)
	}
	var namer Namer
	var orders []Prepared
	// Many orders on few names, so that a batch repeats sets and domains.
	for i := range 20_000 {
		o := Order{IssuedAt: t0.Add(time.Duration(i) * time.Minute),
			Names: []string{fmt.Sprintf("h%d.d%d.example.com", i%7, i%300), fmt.Sprintf("d%d.example.org", i%90)}}
		pr, err := namer.Prepare(&o)
		if err != nil {
			t.Fatal(err)
		}
		orders = append(orders, pr)
	}
	one, batch := NewReplayer(p), NewReplayer(p)
	results := make([]Result, 100)
	var res Result
	for lo := 0; lo < len(orders); lo += len(results) {
		part := orders[lo:min(lo+len(results), len(orders))]
		if n, err := batch.DecideBatch(part, results); err != nil || n != len(part) {
			t.Fatalf("DecideBatch: %d, %v", n, err)
		}
		for i := range part {
			if err := one.Decide(&part[i], &res); err != nil {
				t.Fatal(err)
			}
			if a, b := fmt.Sprintf("%+v", res), fmt.Sprintf("%+v", results[i]); a != b {
				t.Fatalf("order %d: Decide %s, DecideBatch %s", lo+i, a, b)
			}
		}
	}
	// An order out of order stops the batch there.
	bad := append([]Prepared(nil), orders[:3]...)
	for i := range bad {
		bad[i].IssuedAt += int64(len(orders)) * int64(time.Minute)
	}
	bad[2].IssuedAt = 0
	if n, err := batch.DecideBatch(bad, results); n != 2 || !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("DecideBatch on old orders: %d, %v", n, err)
	}
}
