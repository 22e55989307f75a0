package replay

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

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
