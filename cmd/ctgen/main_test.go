package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/replay/synth"
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
	r := replay.NewReplayer(p)
	res := make([]replay.Result, len(a))
	if _, err := r.DecideBatch(a, res); err != nil {
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

func TestOrdersAreDeterministic(t *testing.T) {
	c := synth.Realistic(3, 2000)
	var a, b, other bytes.Buffer
	for _, w := range []struct {
		buf *bytes.Buffer
		c   synth.Config
	}{{&a, c}, {&b, c}, {&other, synth.Realistic(4, 2000)}} {
		if n, err := WriteOrders("-", w.buf, w.c); err != nil || n != 2000 {
			t.Fatal(n, err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same seed gave different JSON lines")
	}
	if bytes.Equal(a.Bytes(), other.Bytes()) {
		t.Fatal("seeds 3 and 4 gave the same JSON lines")
	}
	if lines := bytes.Count(a.Bytes(), []byte("\n")); lines != 2000 {
		t.Fatalf("%d lines", lines)
	}
	dir := t.TempDir()
	var files [2][]byte
	for i := range files {
		path := filepath.Join(dir, fmt.Sprintf("o%d.parquet", i))
		if _, err := WriteOrders(path, nil, c); err != nil {
			t.Fatal(err)
		}
		var err error
		if files[i], err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Fatal("the same seed gave different Parquet files")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// TestOrdersReadBack writes orders in every format and reads them back with
// orderio, the reader `ctlimits replay --orders` uses: the same orders as
// the generator's, to the nanosecond, and the same decisions.
func TestOrdersReadBack(t *testing.T) {
	realistic := synth.Realistic(1, 3000)
	// Adversarial orders carry every kind of spelling; with accounts, the
	// account column too.
	adversarial := synth.Adversarial(2, 3000)
	adversarial.Accounts = 40
	p, _ := replay.LookupPolicy("letsencrypt")
	for _, c := range []synth.Config{realistic, adversarial} {
		want := synth.Orders(c)
		// The decisions of the generator's own orders.
		var wantCounts orderio.Counts
		r := replay.NewReplayer(p)
		var namer replay.Namer
		var res replay.Result
		for i := range want {
			pr, err := namer.Prepare(&want[i])
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Decide(&pr, &res); err != nil {
				t.Fatal(err)
			}
			wantCounts.Add(&res)
		}
		for _, name := range []string{"-", "o.jsonl", "o.csv", "o.parquet"} {
			t.Run(fmt.Sprintf("seed=%d/%s", c.Seed, name), func(t *testing.T) {
				var stdout bytes.Buffer
				path := name
				if name != "-" {
					path = filepath.Join(t.TempDir(), name)
				}
				if n, err := WriteOrders(path, &stdout, c); err != nil || n != int64(len(want)) {
					t.Fatal(n, err)
				}
				lines := stdout.Bytes() // for "-"
				in, err := orderio.Open(path, bytes.NewReader(lines))
				if err != nil {
					t.Fatal(err)
				}
				got, err := orderio.ReadAll(context.Background(), in)
				in.Close()
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("read %d orders, wrote %d", len(got), len(want))
				}
				for i, g := range got {
					w := want[i]
					o := g.Order
					if !o.IssuedAt.Equal(w.IssuedAt) || !o.NotBefore.Equal(w.NotBefore) || !o.NotAfter.Equal(w.NotAfter) ||
						!slices.Equal(o.Names, w.Names) || o.Account != w.Account {
						t.Fatalf("order %d: read %+v, generated %+v", i, o, w)
					}
				}
				// And through the replay pipeline, as the command runs it.
				in, err = orderio.Open(path, bytes.NewReader(lines))
				if err != nil {
					t.Fatal(err)
				}
				defer in.Close()
				out, _ := orderio.NewWriter("csv", io.Discard)
				counts, err := orderio.Stream(context.Background(), in, p, out, orderio.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if counts != wantCounts {
					t.Fatalf("replayed %v, want %v", counts, wantCounts)
				}
			})
		}
		t.Logf("seed %d: %v", c.Seed, wantCounts)
	}
}

func TestOrdersModeRefusesLogFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := ordersMode(ordersOptions{N: 10, Seed: 1, Out: "ctgen-log", LogFlags: []string{"serve"}}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "-serve") {
		t.Fatalf("-orders with -serve: %v", err)
	}
	if err := ordersMode(ordersOptions{N: 10, Seed: 1, Out: "ctgen-log"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(stdout.Bytes(), []byte("\n")); n != 10 {
		t.Fatalf("without -out: %d lines on stdout, want 10", n)
	}
	if _, err := os.Stat("ctgen-log"); err == nil {
		t.Fatal("wrote ctgen-log: -out's log default must not apply to -orders")
	}
	if err := ordersMode(ordersOptions{N: 10, Seed: 1, Out: filepath.Join(t.TempDir(), "orders"), OutSet: true}, &stdout, &stderr); err == nil {
		t.Fatal("an orders file without an extension: no error")
	}
	if err := ordersMode(ordersOptions{N: 10, Seed: 1, PerDay: -1}, &stdout, &stderr); err == nil {
		t.Fatal("-per-day -1: no error")
	}
}

// TestOrdersPerDay: -per-day changes the clock only.
func TestOrdersPerDay(t *testing.T) {
	const n, perDay = 20000, 8e6
	var base, dense, stderr bytes.Buffer
	if err := ordersMode(ordersOptions{N: n, Seed: 1}, &base, &stderr); err != nil {
		t.Fatal(err)
	}
	if err := ordersMode(ordersOptions{N: n, Seed: 1, PerDay: perDay}, &dense, &stderr); err != nil {
		t.Fatal(err)
	}
	read := func(b *bytes.Buffer) []orderio.Record {
		in, _ := orderio.Open("-", bytes.NewReader(b.Bytes()))
		recs, err := orderio.ReadAll(context.Background(), in)
		if err != nil || len(recs) != n {
			t.Fatal(len(recs), err)
		}
		return recs
	}
	a, b := read(&base), read(&dense)
	for i := range a {
		if !slices.Equal(a[i].Order.Names, b[i].Order.Names) {
			t.Fatalf("order %d: names %v with -per-day, %v without", i, b[i].Order.Names, a[i].Order.Names)
		}
	}
	span := b[n-1].Order.IssuedAt.Sub(b[0].Order.IssuedAt)
	if rate := float64(n) / span.Hours() * 24; rate < 0.9*perDay || rate > 1.1*perDay {
		t.Fatalf("%.0f orders a day with -per-day %.0f", rate, perDay)
	}
}

// TestOutRefusesADirectoryItDidNotWrite: -out replaces a log ctgen
// wrote, but a non-empty directory without ctgen's mark is refused and
// left alone (issue 10, item 19).
func TestOutRefusesADirectoryItDidNotWrite(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(precious, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := replaceOutDir(dir)
	if _, serr := os.Stat(precious); serr != nil {
		t.Fatalf("-out deleted a directory ctgen did not write: %v", serr)
	}
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "not written by ctgen") {
		t.Fatalf("replacing a foreign directory: %v", err)
	}
	// A log ctgen wrote is replaced; so is an empty or missing directory.
	log := filepath.Join(t.TempDir(), "log")
	for range 2 {
		if err := replaceOutDir(log); err != nil {
			t.Fatal(err)
		}
		if _, err := Write(log, Config{Certs: 200, Days: 2, Seed: 1, Hosting: 0}); err != nil {
			t.Fatal(err)
		}
	}
	if err := replaceOutDir(t.TempDir()); err != nil {
		t.Fatalf("an empty directory: %v", err)
	}
	// A file is not a directory to replace either.
	if err := replaceOutDir(precious); err == nil {
		t.Fatal("-out naming a file: no error")
	}
}

// TestServePrintsAWorkingIngestCommand: the command printed for a log
// served over HTTP names its protocol, which ctlimits ingest requires for
// a URL not in the log list (issue 10, item 19).
func TestServePrintsAWorkingIngestCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	if _, err := Write(dir, Config{Certs: 200, Days: 2, Seed: 1, Hosting: 0}); err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{"http://127.0.0.1:8080/", "file://" + dir} {
		var b bytes.Buffer
		printIngest(&b, dir, url)
		args := strings.Fields(b.String())
		if len(args) < 2 || args[0] != "ctlimits" || args[1] != "ingest" {
			t.Fatalf("printed %q", b.String())
		}
		if !slices.Contains(args, "--protocol") || args[slices.Index(args, "--protocol")+1] != "static" {
			t.Fatalf("%s: printed %q, without --protocol static", url, b.String())
		}
		for _, f := range []string{"--log", "--key", "--origin"} {
			if !slices.Contains(args, f) {
				t.Fatalf("%s: printed %q, without %s", url, b.String(), f)
			}
		}
	}
}
