package replay

import (
	"testing"
	"time"
)

// gcraVectors are Boulder's ratelimits/gcra_test.go TestDecide steps:
// burst 10, 1 per second, starting full; the TAT carries from row to row.
var gcraVectors = []struct {
	name      string
	advance   time.Duration
	cost      int64
	allowed   bool
	remaining int64
	retryIn   time.Duration
	resetIn   time.Duration
}{
	{"a first request spends one of ten", 0, 1, true, 9, 0, time.Second},
	{"spending the other nine empties the bucket", 0, 9, true, 0, 9 * time.Second, 10 * time.Second},
	{"an empty bucket denies", 0, 1, false, 0, time.Second, 10 * time.Second},
	{"a second later one token is back", time.Second, 0, true, 1, 0, 9 * time.Second},
	{"and can be spent", 0, 1, true, 0, time.Second, 10 * time.Second},
	{"ten seconds later the bucket is full", 10 * time.Second, 1, true, 9, 0, time.Second},
	{"a token refills in whole emission intervals", 999 * time.Millisecond, 0, true, 9, 0, time.Millisecond},
	{"long idle is capped at burst", 20 * time.Hour, 0, true, 10, 0, 0},
	{"the whole burst can be spent at once", 0, 10, true, 0, 10 * time.Second, 10 * time.Second},
	{"cost zero on an empty bucket is allowed", 0, 0, true, 0, 0, 10 * time.Second},
	{"one more is denied", 0, 1, false, 0, time.Second, 10 * time.Second},
	{"one second later one is allowed", time.Second, 1, true, 0, time.Second, 10 * time.Second},
	{"seven at five tokens is denied, TAT unchanged", 5 * time.Second, 7, false, 5, 2 * time.Second, 5 * time.Second},
}

func TestGCRABoulderVectors(t *testing.T) {
	t.Parallel()
	b := Bucket{Limit: mustLimit(10, 1, time.Second)}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, v := range gcraVectors {
		clock = clock.Add(v.advance)
		got := b.Spend(clock, v.cost)
		if got.Allowed != v.allowed || got.Remaining != v.remaining || got.RetryIn != v.retryIn || got.ResetIn != v.resetIn {
			t.Fatalf("row %d (%s): got allowed=%v remaining=%d retryIn=%s resetIn=%s, want %v %d %s %s",
				i+1, v.name, got.Allowed, got.Remaining, got.RetryIn, got.ResetIn, v.allowed, v.remaining, v.retryIn, v.resetIn)
		}
	}
}

func TestGCRAExactlyEnoughIsAllowed(t *testing.T) {
	t.Parallel()
	// 50 per 168h: one token every 201.6 minutes. After emptying the
	// bucket, a token is back exactly one emission interval later, not 1ns
	// earlier.
	l := mustLimit(50, 50, 168*time.Hour)
	b := Bucket{Limit: l}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if o := b.Spend(t0, 50); !o.Allowed {
		t.Fatal("a full bucket must allow its burst")
	}
	ei := l.EmissionInterval()
	if ei != 201*time.Minute+36*time.Second {
		t.Fatalf("emission interval = %s, want 3h21m36s", ei)
	}
	if o := b.Check(t0.Add(ei-1), 1); o.Allowed || o.RetryIn != 1 {
		t.Fatalf("1ns early: allowed=%v retryIn=%s, want denied with 1ns to wait", o.Allowed, o.RetryIn)
	}
	if o := b.Check(t0.Add(ei), 1); !o.Allowed {
		t.Fatal("exactly one emission interval later must be allowed")
	}
}

func TestEmissionIntervalTruncates(t *testing.T) {
	t.Parallel()
	// Boulder divides integer nanoseconds: 1s/3 = 333333333ns, and the
	// burst offset is built from the truncated interval.
	l := mustLimit(3, 3, time.Second)
	if l.emission != 333333333 || l.capHi != 0 || l.capLo != 999999999 {
		t.Fatalf("emission %d offset %d, want 333333333 and 999999999", l.emission, l.capLo)
	}
}

func TestNewLimitRejectsNonsense(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		burst, count int64
		period       time.Duration
	}{{0, 1, time.Hour}, {1, 0, time.Hour}, {1, 1, 0}, {1, -1, time.Hour}, {5, 10, 5}} {
		if _, err := NewLimit(c.burst, c.count, c.period); err == nil {
			t.Errorf("NewLimit(%d, %d, %s) accepted", c.burst, c.count, c.period)
		}
	}
}
