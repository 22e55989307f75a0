package orderio

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

// TestOrderWritersRoundTrip: what NewOrderWriter writes, Open reads back
// as the same orders, in every format: times to the nanosecond, optional
// fields absent or present, names that need quoting, and more orders
// than one Parquet record (so records and row groups are cut).
func TestOrderWritersRoundTrip(t *testing.T) {
	base := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	var want []replay.Order
	for i := range 3*recordRows + 17 {
		o := replay.Order{
			IssuedAt: base.Add(time.Duration(i) * 1_234_567_891),
			Names:    []string{fmt.Sprintf("s%d.example.com", i)},
		}
		if i%3 == 0 {
			o.Names = append(o.Names, fmt.Sprintf("www.s%d.example.com", i), "Example.ORG")
		}
		if i%5 == 0 {
			o.NotBefore = o.IssuedAt.Add(-time.Hour)
			o.NotAfter = o.NotBefore.Add(90*24*time.Hour - time.Second)
		}
		if i%7 == 0 {
			o.Account = fmt.Sprintf("acct-%d, \"quoted\"\\", i%4)
		}
		want = append(want, o)
	}
	for _, f := range []Format{JSONL, CSV, Parquet} {
		t.Run(string(f), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "orders."+string(f))
			fh, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w, err := NewOrderWriter(f, fh)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if err := w.Write(&want[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := fh.Close(); err != nil {
				t.Fatal(err)
			}
			in, err := Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			got, err := ReadAll(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("read %d orders, wrote %d", len(got), len(want))
			}
			for i, g := range got {
				o, w := g.Order, want[i]
				if !o.IssuedAt.Equal(w.IssuedAt) || !o.NotBefore.Equal(w.NotBefore) || !o.NotAfter.Equal(w.NotAfter) ||
					!slices.Equal(o.Names, w.Names) || o.Account != w.Account {
					t.Fatalf("order %d: read %+v, wrote %+v", i, o, w)
				}
			}
		})
	}
	if _, err := NewOrderWriter("table", os.Stdout); err == nil {
		t.Fatal("orders as a table: no error")
	}
}
