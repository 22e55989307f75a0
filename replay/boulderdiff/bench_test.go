package boulderdiff

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/letsencrypt/boulder/identifier"

	"github.com/ctlimits/ctlimits/replay/synth"
)

// BenchmarkBoulderLimiter runs Boulder's limiter over the realistic stream
// under the production limits, cycling through benchOrders orders and
// shifting them later in time on each pass, with names parsed outside the
// timer. ctlimits' side of the same loop is replay's BenchmarkDecide; the
// ratio on the very same orders comes from cmd/benchtable.
const benchOrders = 1 << 17

func BenchmarkBoulderLimiter(b *testing.B) {
	orders := synth.Orders(synth.Realistic(1, benchOrders))
	idents := make([]identifier.ACMEIdentifiers, len(orders))
	for i := range orders {
		var err error
		if idents[i], err = Idents(orders[i].Names, false); err != nil {
			b.Fatal(err)
		}
	}
	span := orders[len(orders)-1].IssuedAt.Sub(orders[0].IssuedAt) + 24*time.Hour
	bl := newBenchBoulder(b)
	var shift time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i, j := 0, 0; i < b.N; i, j = i+1, j+1 {
		if j == len(orders) {
			j, shift = 0, shift+span
		}
		o := &orders[j]
		if _, err := bl.Order(o.IssuedAt.Add(shift), o.NotBefore.Add(shift), 1, idents[j]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}

func newBenchBoulder(b *testing.B) *Boulder {
	b.Helper()
	path := filepath.Join(b.TempDir(), "defaults.yml")
	if err := os.WriteFile(path, []byte(productionDefaults), 0o644); err != nil {
		b.Fatal(err)
	}
	bl, err := New(path, "")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(bl.Close)
	return bl
}
