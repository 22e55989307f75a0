package synth

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

// TestScaleLiveState streams a large synth.Realistic run through
// Namer.Prepare and Replayer.DecideBatch, one batch at a time, and logs at
// checkpoints what the Replayer holds (exact sets and domain buckets, as
// of its last sweep of expired state), the Go heap in use and the days of
// issuance covered: whether the replay's memory follows the live state or
// the orders seen. Opt-in, it takes minutes:
//
//	CTLIMITS_SCALE_ORDERS=100000000 go test -run ScaleLiveState -v -timeout 2h ./replay/synth
//
// CTLIMITS_SCALE_HEAPPROFILE=FILE writes a heap profile at the end (read
// it with go tool pprof -sample_index=inuse_space).
func TestScaleLiveState(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CTLIMITS_SCALE_ORDERS"))
	if n <= 0 {
		t.Skip("set CTLIMITS_SCALE_ORDERS to run")
	}
	p, err := replay.LookupPolicy("letsencrypt")
	if err != nil {
		t.Fatal(err)
	}
	c := Realistic(1, n)
	g := New(c)
	r := replay.NewReplayer(p)
	var namer replay.Namer
	const batch = 4096
	orders := make([]replay.Prepared, batch)
	results := make([]replay.Result, batch)
	checkpoint := max(n/10, batch)
	var o replay.Order
	var done, next int
	var first, last int64
	var kinds [4]int64
	start := time.Now()
	for {
		k := 0
		for k < batch && g.Next(&o) {
			pr, err := namer.Prepare(&o)
			if err != nil {
				t.Fatal(err)
			}
			orders[k] = pr
			k++
		}
		if k == 0 {
			break
		}
		if done == 0 {
			first = orders[0].IssuedAt
		}
		if _, err := r.DecideBatch(orders[:k], results[:k]); err != nil {
			t.Fatal(err)
		}
		for i := range results[:k] {
			kinds[results[i].Kind]++
		}
		last = orders[k-1].IssuedAt
		done += k
		if done >= next || done == n {
			next += checkpoint
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			st := r.Stats()
			days := float64(last-first) / float64(24*time.Hour)
			t.Logf("%11d orders, %7.1f days (%6.0f orders/day): %9d sets, %7d domain buckets live; heap in use %4d MB, Go sys %4d MB, RSS %s (the tables are mapped outside the Go heap); %s",
				done, days, float64(done)/max(days, 1), st.Sets, st.DomainBuckets, ms.HeapInuse>>20, ms.Sys>>20, rss(), time.Since(start).Round(time.Second))
		}
	}
	t.Logf("%d new, %d renewal, %d limited", kinds[replay.New], kinds[replay.Renewal], kinds[replay.Limited])
	if path := os.Getenv("CTLIMITS_SCALE_HEAPPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		if err := pprof.WriteHeapProfile(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

// rss is the process's resident set from /proc (Linux), or "?".
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
