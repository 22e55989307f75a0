package replay

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

// A burst of 1,000,000 at 50 per 168h makes emission*burst pass int64
// (1.2e19 ns); it used to wrap negative and deny every order.
func TestLargeBurstDoesNotOverflow(t *testing.T) {
	t.Parallel()
	b := Bucket{Limit: mustLimit(1_000_000, 50, week)}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := int64(1); i <= 3; i++ {
		o := b.Spend(now, 1)
		if !o.Allowed || o.Remaining != 1_000_000-i {
			t.Fatalf("spend %d: %+v, want allowed with %d left", i, o, 1_000_000-i)
		}
	}
	// The largest burst and count Boulder accepts.
	b = Bucket{Limit: mustLimit(math.MaxInt64, 1, time.Duration(math.MaxInt64))}
	if o := b.Spend(now, 1); !o.Allowed || o.Remaining != math.MaxInt64-1 || o.TAT != math.MaxInt64 {
		t.Fatalf("max limit: %+v", o)
	}
	if o := b.Spend(now, 1); !o.Allowed || o.Remaining != math.MaxInt64-2 {
		t.Fatalf("max limit, second spend: %+v", o)
	}
}

// A TAT that would pass 2262 saturates at the last instant int64
// nanoseconds hold instead of wrapping to 1677, where it would read as a
// full bucket. (Past that instant the debt is undercounted: documented.)
func TestTATNear2262Saturates(t *testing.T) {
	t.Parallel()
	b := Bucket{Limit: mustLimit(2, 1, week)}
	now := time.Unix(0, math.MaxInt64-int64(time.Hour))
	if o := b.Spend(now, 1); !o.Allowed || o.TAT != math.MaxInt64 || o.Remaining != 1 {
		t.Fatalf("first: %+v", o)
	}
	if o := b.Spend(now, 1); !o.Allowed || o.Remaining != 0 || o.TAT != math.MaxInt64 {
		t.Fatalf("second: %+v", o)
	}
	if lv := b.Limit.level(b.TAT, now.UnixNano()); lv >= 2 {
		t.Fatalf("the bucket reads full (%d tokens) after two spends", lv)
	}
}

// boulderSpend is Boulder's maybeSpend in int64, as it was here before:
// the reference wherever no product passes int64.
func boulderSpend(l *Limit, now, tat, cost int64) Outcome {
	ei := l.emission
	burstOffset := ei * l.Burst
	t := max(now, tat)
	increment := ei * cost
	newTAT := t + increment
	diff := now - (newTAT - burstOffset)
	if diff < 0 {
		return Outcome{false, (now - (t - burstOffset)) / ei, time.Duration(-diff), time.Duration(t - now), t}
	}
	var retryIn time.Duration
	if diff < increment {
		retryIn = time.Duration(increment - diff)
	}
	return Outcome{true, diff / ei, retryIn, time.Duration(newTAT - now), newTAT}
}

// bigSpend is the same GCRA in unbounded integers, saturated as spend
// documents.
func bigSpend(l *Limit, now, tat, cost int64) Outcome {
	B := func(x int64) *big.Int { return big.NewInt(x) }
	sat := func(x *big.Int) int64 {
		if x.Cmp(B(math.MaxInt64)) > 0 {
			return math.MaxInt64
		}
		if x.Cmp(B(-math.MaxInt64)) < 0 {
			return -math.MaxInt64
		}
		return x.Int64()
	}
	ei := B(l.emission)
	burstOffset := new(big.Int).Mul(ei, B(l.Burst))
	t := B(max(now, tat))
	increment := new(big.Int).Mul(ei, B(cost))
	newTAT := new(big.Int).Add(t, increment)
	diff := new(big.Int).Sub(B(now), new(big.Int).Sub(newTAT, burstOffset))
	if diff.Sign() < 0 {
		rem := new(big.Int).Sub(B(now), new(big.Int).Sub(t, burstOffset))
		rem.Quo(rem, ei)
		return Outcome{false, sat(rem), time.Duration(sat(new(big.Int).Neg(diff))), time.Duration(sat(new(big.Int).Sub(t, B(now)))), t.Int64()}
	}
	var retryIn time.Duration
	if diff.Cmp(increment) < 0 {
		retryIn = time.Duration(sat(new(big.Int).Sub(increment, diff)))
	}
	return Outcome{true, sat(new(big.Int).Quo(diff, ei)), retryIn, time.Duration(sat(new(big.Int).Sub(newTAT, B(now)))), sat(newTAT)}
}

func fitsInt64(l *Limit, now, tat, cost int64) bool {
	b := func(x int64) *big.Int { return big.NewInt(x) }
	in := func(x *big.Int) bool { return x.IsInt64() }
	ei := b(l.emission)
	bo := new(big.Int).Mul(ei, b(l.Burst))
	t := b(max(now, tat))
	inc := new(big.Int).Mul(ei, b(cost))
	nt := new(big.Int).Add(t, inc)
	return in(bo) && in(inc) && in(nt) && in(new(big.Int).Sub(nt, bo)) && in(new(big.Int).Sub(b(now), new(big.Int).Sub(nt, bo))) &&
		in(new(big.Int).Sub(t, bo)) && in(new(big.Int).Sub(b(now), new(big.Int).Sub(t, bo))) && in(new(big.Int).Sub(t, b(now)))
}

// spend agrees with unbounded arithmetic for every limit, and with
// Boulder's int64 code bit for bit wherever that code does not wrap.
func TestSpendIsExact(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(small int64) int64 {
		switch rng.IntN(4) {
		case 0:
			return 1 + rng.Int64N(small)
		case 1:
			return math.MaxInt64 - rng.Int64N(small)
		default:
			return 1 + rng.Int64N(math.MaxInt64)
		}
	}
	for i := 0; i < 200000; i++ {
		period := time.Duration(pick(int64(400 * week)))
		count := pick(1000)
		if int64(period)/count == 0 {
			count = 1 + rng.Int64N(int64(period))
		}
		l := mustLimit(pick(2_000_000), count, period)
		now := rng.Int64N(math.MaxInt64)
		tat := now + rng.Int64N(math.MaxInt64-now+1) - rng.Int64N(int64(week))
		if rng.IntN(3) == 0 {
			tat = 0
		}
		cost := min(rng.Int64N(3), l.Burst)
		if rng.IntN(5) == 0 {
			cost = rng.Int64N(l.Burst) + 1
		}
		got := l.spend(now, tat, cost)
		if want := bigSpend(&l, now, tat, cost); got != want {
			t.Fatalf("%s, now %d, tat %d, cost %d:\n got %+v\nwant %+v", l, now, tat, cost, got, want)
		}
		if fitsInt64(&l, now, tat, cost) {
			if want := boulderSpend(&l, now, tat, cost); got != want {
				t.Fatalf("%s, now %d, tat %d, cost %d: differs from Boulder's int64:\n got %+v\nwant %+v", l, now, tat, cost, got, want)
			}
		}
		if got.Allowed {
			if lv := l.level(got.TAT, now); lv != min(l.Burst, got.Remaining) && got.TAT != math.MaxInt64 {
				t.Fatalf("%s: level after spend %d, remaining %d", l, lv, got.Remaining)
			}
		}
	}
}
