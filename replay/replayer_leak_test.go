package replay

import (
	"testing"
	"time"
)

// A Result's slices are reused from order to order; past their length
// they must hold nothing, or a short order after a long one would keep
// the long one's domain strings (and the whole buffer they point into)
// alive. Found replaying 100M certificates: each 6h slice of history
// stayed in memory through a stale Tokens entry.
func TestResultSlicesKeepNothingPastTheirLength(t *testing.T) {
	t.Parallel()
	p, _ := LookupPolicy("letsencrypt")
	r := NewReplayer(p)
	var n Namer
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var res Result
	for i, names := range [][]string{
		{"a.one.example", "b.two.example", "c.three.example", "d.four.example"},
		{"e.five.example"},
	} {
		o, err := n.Prepare(&Order{IssuedAt: at.Add(time.Duration(i) * time.Minute), Names: names})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Decide(&o, &res); err != nil {
			t.Fatal(err)
		}
	}
	for i, tk := range res.Tokens[len(res.Tokens):cap(res.Tokens)] {
		if tk.Bucket.Key != "" {
			t.Errorf("Tokens[%d] past the length still names %q", len(res.Tokens)+i, tk.Bucket.Key)
		}
	}
}
