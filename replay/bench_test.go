package replay_test

import (
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/synth"
)

// benchOrders is how many distinct orders the benchmarks cycle through;
// each pass shifts them later in time so that IssuedAt keeps increasing.
const benchOrders = 1 << 18

// prepared returns a realistic stream, prepared, and the time span it
// covers.
func prepared(b *testing.B, n int) ([]replay.Prepared, int64) {
	b.Helper()
	var namer replay.Namer
	out := make([]replay.Prepared, 0, n)
	g := synth.New(synth.Realistic(1, n))
	var o replay.Order
	for g.Next(&o) {
		p, err := namer.Prepare(&o)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, p)
	}
	return out, out[len(out)-1].IssuedAt - out[0].IssuedAt + int64(24*time.Hour)
}

// BenchmarkDecide measures the replay core: one Decide per order, on
// orders prepared outside the timer, under the production policy.
func BenchmarkDecide(b *testing.B) {
	orders, span := prepared(b, benchOrders)
	p, err := replay.LookupPolicy("letsencrypt")
	if err != nil {
		b.Fatal(err)
	}
	r := replay.NewReplayer(p)
	var res replay.Result
	b.ReportAllocs()
	b.ResetTimer()
	for i, j := 0, 0; i < b.N; i, j = i+1, j+1 {
		if j == len(orders) {
			b.StopTimer()
			for k := range orders {
				orders[k].IssuedAt += span
				orders[k].NotBefore += span
			}
			j = 0
			b.StartTimer()
		}
		if err := r.Decide(&orders[j], &res); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}

// BenchmarkPrepare measures normalization: lowercasing, sorting,
// deduplicating, hashing the exact set and finding registered domains.
func BenchmarkPrepare(b *testing.B) {
	orders := synth.Orders(synth.Realistic(1, benchOrders))
	var namer replay.Namer
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := namer.Prepare(&orders[i%len(orders)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}

// BenchmarkDecideBatch is BenchmarkDecide through Replayer.DecideBatch,
// 256 orders at a time.
func BenchmarkDecideBatch(b *testing.B) {
	orders, span := prepared(b, benchOrders)
	p, err := replay.LookupPolicy("letsencrypt")
	if err != nil {
		b.Fatal(err)
	}
	r := replay.NewReplayer(p)
	results := make([]replay.Result, 256)
	b.ReportAllocs()
	b.ResetTimer()
	for i, j := 0, 0; i < b.N; {
		if j == len(orders) {
			b.StopTimer()
			for k := range orders {
				orders[k].IssuedAt += span
				orders[k].NotBefore += span
			}
			j = 0
			b.StartTimer()
		}
		n := min(len(results), b.N-i, len(orders)-j)
		if _, err := r.DecideBatch(orders[j:j+n], results); err != nil {
			b.Fatal(err)
		}
		i, j = i+n, j+n
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}
