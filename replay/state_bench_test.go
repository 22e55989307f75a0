package replay

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay/internal/table"
)

// benchStateEntries is how many live sets (or domain buckets) the state
// benchmark holds.
const benchStateEntries = 1_000_000

// stateReplayer returns a Replayer under the production policy holding
// n live exact sets or n live domain buckets, shaped as after a 120-day
// history: NotBefores in whole seconds spread over the renewal window,
// one set in 20 with a bucket not yet full (issued in the last week),
// domain TATs up to a week ahead.
func stateReplayer(b *testing.B, n int, domains bool) *Replayer {
	p, err := LookupPolicy("letsencrypt")
	if err != nil {
		b.Fatal(err)
	}
	r := NewReplayer(p)
	now := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC).UnixNano()
	r.started, r.now = true, now
	rng := rand.New(rand.NewPCG(1, 2))
	week := int64(7 * 24 * time.Hour)
	if domains {
		r.domainTAT.Reserve(n)
		for i := range n {
			d := fmt.Sprintf("%s%d.%s", []string{"shop", "blog", "my", "example", "app"}[i%5], rng.IntN(1<<30), []string{"com", "net", "org", "de", "co.uk"}[i%5])
			r.domainTAT.Set(d, now+1+rng.Int64N(week))
		}
		return r
	}
	r.sets.Reserve(n)
	var seed [8]byte
	for i := range n {
		binary.LittleEndian.PutUint64(seed[:], uint64(i))
		h := sha256.Sum256(seed[:])
		k := table.KeyOf(&h)
		st := table.SetState{TAT: now, LastNB: (now - rng.Int64N(int64(120*24*time.Hour))) / 1e9 * 1e9}
		if i%20 == 0 {
			st.TAT = now + 1 + rng.Int64N(week)
		}
		r.sets.Put(&k, st)
	}
	return r
}

// BenchmarkStateWriteRead writes and reads the state of a Replayer with
// 1M live exact sets (or domain buckets), and reports the encoded bytes
// per entry, the bytes per entry the tables take in memory, and the
// speed of WriteState and ReadState.
func BenchmarkStateWriteRead(b *testing.B) {
	for _, kind := range []string{"sets", "domains"} {
		b.Run(kind, func(b *testing.B) {
			r := stateReplayer(b, benchStateEntries, kind == "domains")
			var buf bytes.Buffer
			var write, read time.Duration
			var info StateInfo
			for i := 0; i < b.N; i++ {
				buf.Reset()
				start := time.Now()
				var err error
				if info, err = r.WriteState(&buf); err != nil {
					b.Fatal(err)
				}
				write += time.Since(start)
				start = time.Now()
				if _, _, err := ReadState(r.p, bytes.NewReader(buf.Bytes())); err != nil {
					b.Fatal(err)
				}
				read += time.Since(start)
			}
			mb := float64(info.Bytes) * float64(b.N) / 1e6
			b.ReportMetric(float64(info.Bytes)/benchStateEntries, "bytes/entry")
			mem := float64(r.sets.Slots()*table.SlotBytes) / float64(r.sets.Len())
			if kind == "domains" {
				mem = float64(r.domainTAT.Slots()*table.DomainSlotBytes) / float64(r.domainTAT.Len())
			}
			b.ReportMetric(mem, "mem-bytes/entry")
			b.ReportMetric(mb/write.Seconds(), "write-MB/s")
			b.ReportMetric(mb/read.Seconds(), "read-MB/s")
		})
	}
}
