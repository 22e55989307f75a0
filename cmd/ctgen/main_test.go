package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
	"github.com/ctlimits/ctlimits/replay"
)

var testConfig = Config{Certs: 20000, Days: 14, Seed: 7, Hosting: 2, Start: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}

func planOrders(t *testing.T, c Config) ([]replay.Prepared, int64) {
	t.Helper()
	g := newGen(c)
	var n replay.Namer
	var out []replay.Prepared
	for _, ev := range g.plan() {
		names, _ := g.names(ev.site)
		p, err := n.Prepare(&replay.Order{IssuedAt: time.Unix(0, ev.at), NotBefore: time.Unix(0, ev.at).Add(-time.Hour), Names: names})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out, g.c.Start.UnixNano()
}

func TestPlanIsDeterministicAndShapedLikeLetsEncrypt(t *testing.T) {
	a, start := planOrders(t, testConfig)
	b, _ := planOrders(t, testConfig)
	if len(a) != len(b) {
		t.Fatalf("same seed, %d and %d orders", len(a), len(b))
	}
	for i := range a {
		if a[i].IssuedAt != b[i].IssuedAt || !slices.Equal(a[i].Names, b[i].Names) {
			t.Fatalf("same seed, order %d differs", i)
		}
	}
	p, _ := replay.LookupPolicy("letsencrypt")
	res, err := replay.ReplayParallel(a, p, 2)
	if err != nil {
		t.Fatal(err)
	}
	var inWindow, renew, limited, multi, maxNames int
	for i, r := range res {
		maxNames = max(maxNames, len(a[i].Names))
		if len(a[i].Domains) > 1 {
			multi++
		}
		if a[i].IssuedAt < start {
			continue
		}
		inWindow++
		switch r.Kind {
		case replay.Renewal:
			renew++
		case replay.Limited:
			limited++
		}
	}
	t.Logf("%d orders in the window: %d renewals, %d limited; %d span several domains; up to %d names", inWindow, renew, limited, multi, maxNames)
	if inWindow < 15000 || inWindow > 25000 {
		t.Errorf("%d orders in the window, want about 20000", inWindow)
	}
	if renew*2 < inWindow {
		t.Errorf("renewals %d of %d: want the majority", renew, inWindow)
	}
	if limited < 100 {
		t.Errorf("only %d limited: the hosting bursts must go past 50 a week", limited)
	}
	if multi == 0 || maxNames < 20 {
		t.Errorf("multi-domain %d, largest set %d", multi, maxNames)
	}
}

func TestWriteMakesALogThatLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	n, err := Write(dir, Config{Certs: 2000, Days: 7, Seed: 1, Hosting: 1, Burst: 60})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ctlogtest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(l.Entries)) != n || n < 2000 {
		t.Fatalf("%d entries loaded, %d written", len(l.Entries), n)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoint")); err != nil {
		t.Fatal(err)
	}
}
