package replay

import (
	"testing"
	"time"
)

// TestRenewsIsTheReplayersRule checks Policy.Renews against the replay's
// own decisions on both sides of the 120-day edge and before the window
// took effect.
func TestRenewsIsTheReplayersRule(t *testing.T) {
	t.Parallel()
	p, err := LookupPolicy("letsencrypt")
	if err != nil {
		t.Fatal(err)
	}
	const window = 120 * 24 * time.Hour
	for _, c := range []struct {
		spec    string
		nb, at  time.Time
		renewal bool
	}{
		{"1ns inside the window", t0, t0.Add(window - 1), true},
		{"exactly on the edge", t0, t0.Add(window), false},
		{"before the window rule, a year later", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC), true},
	} {
		if got := p.Renews(c.nb.UnixNano(), c.at.UnixNano()); got != c.renewal {
			t.Errorf("%s: Renews = %v, want %v", c.spec, got, c.renewal)
		}
		h := newHarness(t, "letsencrypt")
		h.order(Order{IssuedAt: c.nb, NotBefore: c.nb, Names: []string{"example.net"}})
		if res := h.at(c.at, "example.net"); res.Renewal != c.renewal {
			t.Errorf("%s: the replayer says renewal = %v, want %v", c.spec, res.Renewal, c.renewal)
		}
	}
}
