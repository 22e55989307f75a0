package table

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestSortedVisitsKeptEntriesInByteOrder checks Sorted on both tables,
// with rare sets and long domains (held outside the slots) merged in.
func TestSortedVisitsKeptEntriesInByteOrder(t *testing.T) {
	t.Parallel()
	sets := NewSets()
	sets.maxSlots = 100 // many segments: Sorted merges across them
	keys := setKeys(3000, 4)
	var want [][32]byte
	for i := range keys {
		k := KeyOf(&keys[i])
		sets.Put(&k, SetState{TAT: int64(i), LastNB: int64(-i)})
		if i%3 != 0 {
			want = append(want, keys[i])
		}
	}
	slices.SortFunc(want, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	var got [][32]byte
	keep := func(s *SetState) bool { return s.TAT%3 != 0 }
	if err := sets.Sorted(keep, func(h *[32]byte, st SetState) error {
		if st.LastNB != -st.TAT {
			t.Fatalf("%x: state %+v", *h, st)
		}
		got = append(got, *h)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if sets.Segments() < 16 {
		t.Fatalf("%d segments: the test means to sort across many", sets.Segments())
	}
	if !slices.Equal(got, want) || sets.Count(keep) != len(want) {
		t.Fatalf("Sorted gave %d sets, Count %d, want %d in order", len(got), sets.Count(keep), len(want))
	}

	domains := NewDomains()
	var wantD []string
	for i := range 2000 {
		d := fmt.Sprintf("d%d.example", i*7919%2000)
		if i%50 == 0 {
			d = strings.Repeat("z", 60+i%7) + d // too long for a slot
		}
		domains.Set(d, int64(i))
		if i%2 == 0 {
			wantD = append(wantD, d)
		}
	}
	slices.Sort(wantD)
	var gotD []string
	if err := domains.Sorted(func(tat int64) bool { return tat%2 == 0 }, func(d []byte, tat int64) error {
		gotD = append(gotD, string(d))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotD, wantD) {
		t.Fatalf("Sorted gave %d domains, want %d in order", len(gotD), len(wantD))
	}
}
