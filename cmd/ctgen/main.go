// Command ctgen writes a static-ct-api log of generated certificates shaped
// like Let's Encrypt's issuance, for benchmarks and demos at scale, and can
// serve it (static tiles and an RFC 6962 view) on loopback. It can also
// write a stream of synthetic orders for `ctlimits replay --orders`.
//
//	ctgen -out DIR [-certs 1000000] [-days 30] [-seed 1] [-start 2026-06-01]
//	ctgen -serve 127.0.0.1:8080 -out DIR      (serve a log written before)
//	ctgen -orders N [-seed 1] [-per-day R] [-out -|FILE.jsonl|FILE.csv|FILE.parquet]
//	ctgen -entries DATA -certs N -days D [-start DATE] [-seed S] [-log-id ID] [-hosting H]
//	ctgen -entries DATA -append DAYS
//
// With -entries, ctgen writes a history straight into DATA's entries
// Parquet files, as `ctlimits ingest` would, without encoding
// certificates (see entries.go); -append grows it day by day. -hosting
// there counts bursts per 30 days.
//
// -out replaces a log ctgen wrote before (marked by .ctgen-log) or an
// empty directory; it refuses any other non-empty directory.
//
// With -orders, ctgen writes the N orders of synth.Realistic(seed, N)
// (mostly renewals over many small domains, an order every 2 seconds on
// average; see replay/synth) in the orders format `ctlimits replay
// --orders` reads, chosen by the extension of -out; "-" (the default in
// this mode) is JSON lines on standard output. It generates and writes
// one order at a time, so memory does not grow with N, and the same seed
// gives the same orders byte for byte. The log flags (-certs, -days,
// -start, -hosting, -serve) do not apply to it. -per-day R puts the same
// orders on a faster or slower clock, R a day on average (Let's Encrypt
// issues about 8M a day).
//
// The log's shape: registered domains whose
// sizes are heavy-tailed (most have one or two sites, a few hosting
// providers thousands); every site has an exact set of 1 to 100 names and
// is renewed every 60 days or so (±5), so most orders in any window are
// renewals; a few percent of sets span several registered domains; some
// hosting domains onboard hundreds of new sites in two days, past 50 new
// certificates a week; each certificate is logged as a precertificate and,
// nine times in ten, as the final certificate too; the issuers are Let's
// Encrypt's current intermediates (R12, R13, E7, E8). Before the window
// the log holds the previous certificate of every site renewed in it, so
// that renewals are seen as renewals (about as many certificates again as
// the window's renewals, all before -start). A seed fixes the
// plan; the log key is generated fresh each run. Certificates are encoded
// without signatures (ctlogtest.Leaf.IssueFast): ingest verifies the log's
// signatures, not the certificates'.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
)

// Config is a generated log's shape; the zero value of a field takes the
// default shown by its flag.
type Config struct {
	Certs    int           // certificates issued inside the window (about)
	Days     int           // the window's length
	Start    time.Time     // the window's start
	Seed     uint64        // fixes the plan
	Renew    time.Duration // renewal period
	Jitter   time.Duration // renewal jitter, ±
	NewShare float64       // share of the window's certificates that are first issuances
	Hosting  int           // hosting domains with an onboarding burst
	Burst    int           // sites each hosting domain onboards
	Final    float64       // chance the final certificate is logged too
}

func (c *Config) defaults() {
	if c.Certs <= 0 {
		c.Certs = 1_000_000
	}
	if c.Days <= 0 {
		c.Days = 30
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	}
	if c.Renew <= 0 {
		c.Renew = 60 * 24 * time.Hour
	}
	if c.Jitter <= 0 {
		c.Jitter = 5 * 24 * time.Hour
	}
	if c.NewShare <= 0 {
		c.NewShare = 0.3
	}
	if c.Final <= 0 {
		c.Final = 0.9
	}
	if c.Burst <= 0 {
		c.Burst = 400
	}
}

// event is one issuance: when, and which site (which fixes its names).
type event struct {
	at   int64 // Unix ns
	site int32 // < 0: -1-k is the k-th onboarding site of a hosting burst
}

var tlds = []string{"com", "net", "org", "de", "co.uk", "io", "fr", "nl", "com.au", "dev", "github.io", "app"}

// gen holds the derived sizes: sites below newSites are first issued
// inside the window, the others before it.
type gen struct {
	c        Config
	sites    int
	newSites int
	domains  int
}

// rng is a site's own random stream: the same seed and site always give
// the same names, issuer and phase, without storing anything per site.
func (g *gen) rng(site int32, salt uint64) *mrand.Rand {
	return mrand.New(mrand.NewPCG(g.c.Seed, splitmix(uint64(uint32(site))<<8|salt)))
}

// splitmix is SplitMix64's finalizer: distinct inputs, well-mixed outputs.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (g *gen) domainName(d int) string {
	return fmt.Sprintf("d%d.%s", d, tlds[d%len(tlds)])
}

// names of a site: 1 to 100, most one or two, under a heavy-tailed
// registered domain; 3% also name a site of another domain.
func (g *gen) names(site int32) ([]string, int) {
	if site < 0 {
		k := -1 - int(site)
		host := k / g.c.Burst
		return []string{fmt.Sprintf("customer%d.host%d.example", k%g.c.Burst, host)}, 0
	}
	r := g.rng(site, 1)
	d := int(float64(g.domains) * math.Pow(r.Float64(), 3)) // Skew 3: 10% of sites on 0.1% of domains
	dom := g.domainName(d)
	// Every site has its own names (two sites never share an exact set by
	// accident); a third of them also carry their domain's apex.
	first := fmt.Sprintf("s%d.%s", site, dom)
	names := []string{first, "www." + first}
	if r.IntN(3) == 0 {
		names = append(names, dom)
	}
	more := 0.35
	if r.Float64() < 0.002 {
		more = 0.97 // a few sites carry dozens of names, up to 100
	}
	for len(names) < 100 && r.Float64() < more {
		names = append(names, fmt.Sprintf("h%d.%s", len(names), first))
	}
	if r.Float64() < 0.5 && len(names) == 2 {
		names = names[:1]
	}
	if r.Float64() < 0.03 {
		names = append(names, fmt.Sprintf("s%d.%s", r.IntN(g.sites), g.domainName(r.IntN(g.domains))))
	}
	return names, r.IntN(100)
}

// period is the time to a site's next renewal.
func (g *gen) period(r *mrand.Rand) int64 {
	return int64(g.c.Renew) + r.Int64N(2*int64(g.c.Jitter)+1) - int64(g.c.Jitter)
}

// plan lists every issuance inside the window, and the one before it of
// each site renewed inside it, in time order.
func (g *gen) plan() []event {
	c := g.c
	start, end := c.Start.UnixNano(), c.Start.Add(time.Duration(c.Days)*24*time.Hour).UnixNano()
	window := end - start
	var evs []event
	for s := 0; s < g.sites; s++ {
		r := g.rng(int32(s), 2)
		if s < g.newSites {
			// A new site: first issued inside the window, then renewed.
			for t := start + r.Int64N(window); t < end; t += g.period(r) {
				evs = append(evs, event{t, int32(s)})
			}
			continue
		}
		// An older site renewing inside the window. Its previous issuance
		// goes into the log too, before the window, so the replay sees the
		// renewal as one.
		t := start + r.Int64N(min(window, int64(c.Renew)))
		evs = append(evs, event{t - g.period(r), int32(s)})
		for ; t < end; t += g.period(r) {
			evs = append(evs, event{t, int32(s)})
		}
	}
	r := mrand.New(mrand.NewPCG(c.Seed, 3))
	for h := 0; h < c.Hosting; h++ {
		at := start + r.Int64N(max(1, window-2*24*int64(time.Hour)))
		for k := 0; k < c.Burst; k++ {
			evs = append(evs, event{at + int64(k)*(2*24*int64(time.Hour))/int64(c.Burst), int32(-1 - (h*c.Burst + k))})
		}
	}
	slices.SortFunc(evs, func(a, b event) int {
		if a.at != b.at {
			return int(min(max(a.at-b.at, -1), 1))
		}
		return int(a.site - b.site)
	})
	return evs
}

// newGen sizes a generator for c (with defaults applied).
func newGen(c Config) *gen {
	c.defaults()
	g := &gen{c: c}
	// NewShare of the window's certificates are first issuances, one per
	// new site (plus its renewals when the window is longer than the
	// renewal period); the rest are renewals of older sites, each renewed
	// about days/renew times in the window.
	renewals := float64(c.Days) / (float64(c.Renew) / float64(24*time.Hour))
	g.newSites = int(c.NewShare * float64(c.Certs) / (1 + math.Max(0, renewals-1)/2))
	// Only the older sites that renew inside the window matter: each
	// renews first at a uniform instant of the window (or of the first
	// renewal period, for windows longer than one).
	g.sites = g.newSites + int((1-c.NewShare)*float64(c.Certs)/math.Max(renewals, 1))
	g.domains = max(1, g.sites/2)
	return g
}

// Write generates the log into dir and returns its size in entries.
func Write(dir string, c Config) (int64, error) {
	g := newGen(c)
	c = g.c

	ca, err := ctlogtest.NewCAWithSubjects(
		pkix.Name{Country: []string{"US"}, Organization: []string{"Let's Encrypt"}, CommonName: "R12"},
		pkix.Name{Country: []string{"US"}, Organization: []string{"Let's Encrypt"}, CommonName: "R13"},
		pkix.Name{Country: []string{"US"}, Organization: []string{"Let's Encrypt"}, CommonName: "E7"},
		pkix.Name{Country: []string{"US"}, Organization: []string{"Let's Encrypt"}, CommonName: "E8"},
	)
	if err != nil {
		return 0, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return 0, err
	}
	issuers := map[string][]byte{}
	chains := map[*ctlogtest.Issuer][][]byte{}
	for _, is := range append([]*ctlogtest.Issuer{ca.Root}, ca.Intermediates...) {
		fp := is.Fingerprint()
		issuers[hex.EncodeToString(fp[:])] = is.Cert.Raw
		chains[is] = [][]byte{is.Cert.Raw, ca.Root.Cert.Raw}
	}
	origin := "ctgen.ctlimits.example/" + c.Start.Format("2006-01-02")
	// Mark the directory first, so that a later -out can replace it even
	// if this run fails half way.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, outMark), []byte("a log written by ctgen: ctgen -out replaces this directory\n"), 0o644); err != nil {
		return 0, err
	}
	w, err := ctlogtest.NewStreamWriter(dir, origin, key, issuers)
	if err != nil {
		return 0, err
	}
	evs := g.plan()
	r := mrand.New(mrand.NewPCG(c.Seed, 4))
	var last time.Time
	for i, ev := range evs {
		names, pick := g.names(ev.site)
		is := ca.Intermediates[[]int{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3}[pick%20]]
		at := time.Unix(0, ev.at).UTC().Truncate(time.Millisecond)
		nb := at.Add(-time.Hour).Truncate(time.Second)
		leaf := &ctlogtest.Leaf{Issuer: is, Serial: new(big.Int).SetUint64(0x0500000000000000 + uint64(i)), DNSNames: names, CN: names[0],
			NotBefore: nb, NotAfter: nb.Add(90*24*time.Hour - time.Second)}
		for _, final := range []bool{false, true} {
			if final && r.Float64() >= c.Final {
				continue
			}
			leaf.Precert = !final
			der, tbs, err := leaf.IssueFast()
			if err != nil {
				return 0, err
			}
			ts := at
			if final {
				ts = ts.Add(time.Duration(500+r.IntN(3000)) * time.Millisecond)
			}
			if err := w.Add(ctlogtest.BuildEntry(w.Len(), uint64(ts.UnixMilli()), !final, der, tbs, is.SPKIHash(), chains[is])); err != nil {
				return 0, err
			}
			last = ts
		}
	}
	if err := w.Close(last.Add(time.Minute)); err != nil {
		return 0, err
	}
	return w.Len(), nil
}

func main() {
	out := flag.String("out", "ctgen-log", "output tile directory (replaced); with -orders, the orders file: \"-\" (stdout, JSON lines; the default there), .jsonl, .csv or .parquet")
	certs := flag.Int("certs", 1_000_000, "log: certificates issued in the window (about)")
	days := flag.Int("days", 30, "log: length of the window in days")
	seed := flag.Uint64("seed", 1, "seed: the same seed gives the same certificates (or orders)")
	startS := flag.String("start", "2026-06-01", "log: the window's first day")
	hosting := flag.Int("hosting", 3, "log: hosting domains that onboard a burst of new sites")
	serve := flag.String("serve", "", "log: serve the log in -out on this loopback address instead of writing one")
	orders := flag.Int("orders", 0, "write `N` synthetic orders (synth.Realistic, streamed) for ctlimits replay --orders instead of a log; the log flags (-certs, -days, -start, -hosting, -serve) do not apply")
	entries := flag.String("entries", "", "write a Let's Encrypt-shaped history of -certs certificates over -days days straight into this ctlimits `DATA` directory's entries Parquet files (no tiles; for 100M+ certificates)")
	appendDays := flag.Int("append", 0, "with -entries: grow the history in DATA by this many `days` (its seed, rate and log from DATA/ctgen.json)")
	logID := flag.String("log-id", "", "with -entries: the log's ID, base64 of 32 bytes (default: derived from -seed)")
	perDay := flag.Float64("per-day", 0, "with -orders: orders a day on average (default synth.Realistic's, about 45,000; Let's Encrypt issues about 8,000,000); only the clock changes, repeats still draw from the last 2^20 new sets")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `Usage:
  ctgen [-out DIR] [-certs N] [-days N] [-seed S] [-start DATE] [-hosting N]   write a log
  ctgen -serve ADDR -out DIR                                                   serve a log written before
  ctgen -entries DATA -certs N -days D [-start DATE] [-seed S] [-log-id ID] [-hosting N]
                                                                               write a history into DATA's entries Parquet
  ctgen -entries DATA -append DAYS                                             grow it by DAYS days
  ctgen -orders N [-seed S] [-per-day R] [-out -|FILE.jsonl|FILE.csv|FILE.parquet]
                                                                               write orders (default: JSON lines on stdout)

Flags marked "log:" apply to logs only; with -orders they are an error.

`)
		flag.PrintDefaults()
	}
	flag.Parse()
	log.SetFlags(0)
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if flag.NArg() > 0 {
		log.Fatalf("ctgen: unexpected argument %q", flag.Arg(0))
	}
	if set["entries"] {
		if err := entriesMode(*entries, set, EntriesOptions{Data: *entries, Certs: int64(*certs), Days: *days, Append: *appendDays,
			History: History{Seed: *seed, Hosting: *hosting}}, *startS, *logID); err != nil {
			log.Fatalf("ctgen: %v", err)
		}
		return
	}
	for _, f := range []string{"append", "log-id"} {
		if set[f] {
			log.Fatalf("ctgen: -%s applies to -entries", f)
		}
	}
	if set["per-day"] && !set["orders"] {
		log.Fatal("ctgen: -per-day applies to -orders")
	}
	if set["orders"] {
		var logFlags []string
		for _, f := range []string{"certs", "days", "start", "hosting", "serve"} {
			if set[f] {
				logFlags = append(logFlags, f)
			}
		}
		o := ordersOptions{N: *orders, Seed: *seed, Out: *out, OutSet: set["out"], PerDay: *perDay, LogFlags: logFlags}
		if err := ordersMode(o, os.Stdout, os.Stderr); err != nil {
			log.Fatalf("ctgen: %v", err)
		}
		return
	}
	if *serve != "" {
		serveLog(*out, *serve)
		return
	}
	start, err := time.Parse("2006-01-02", *startS)
	if err != nil {
		log.Fatalf("ctgen: -start %q: %v", *startS, err)
	}
	if err := replaceOutDir(*out); err != nil {
		log.Fatalf("ctgen: %v", err)
	}
	t0 := time.Now()
	n, err := Write(*out, Config{Certs: *certs, Days: *days, Seed: *seed, Start: start, Hosting: *hosting})
	if err != nil {
		log.Fatalf("ctgen: %v", err)
	}
	fmt.Printf("wrote %d entries to %s in %s\n", n, *out, time.Since(t0).Round(time.Millisecond))
	printIngest(os.Stdout, *out, "file://"+absPath(*out))
}

// outMark is the file that marks a directory as a log ctgen wrote: -out
// replaces only such directories (or empty ones).
const outMark = ".ctgen-log"

// replaceOutDir clears dir for a new log: a log ctgen wrote before is
// removed; any other non-empty directory, or a file, is refused and left
// alone.
func replaceOutDir(dir string) error {
	st, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("-out %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("-out %s: not a directory; ctgen writes a log into a directory of its own", dir)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("-out %s: %w", dir, err)
	}
	if len(des) == 0 {
		return nil
	}
	if _, err := os.Lstat(filepath.Join(dir, outMark)); err != nil {
		return fmt.Errorf("-out %s: the directory is not empty and was not written by ctgen (no %s in it), so ctgen won't replace it: give a new or empty directory", dir, outMark)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("couldn't remove the old log in %s: %w", dir, err)
	}
	return nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// serveLog serves a written log: static tiles at /, and an RFC 6962 view
// at /rfc6962/ (loaded into memory: for logs of a few million entries).
func serveLog(dir, addr string) {
	l, err := ctlogtest.Load(dir)
	if err != nil {
		log.Fatalf("ctgen: couldn't load %s: %v", dir, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Fatalf("ctgen: serving only on loopback, not %s", addr)
	}
	s := ctlogtest.NewServer(l, int64(len(l.Entries)))
	mux := http.NewServeMux()
	mux.Handle("/rfc6962/", http.StripPrefix("/rfc6962", s.RFC6962()))
	mux.Handle("/", s.Static())
	base := "http://" + ln.Addr().String()
	fmt.Printf("serving %d entries: static-ct at %s/, RFC 6962 at %s/rfc6962/\n", len(l.Entries), base, base)
	printIngest(os.Stdout, dir, base+"/")
	log.Fatal(http.Serve(ln, mux))
}

// printIngest prints the ingest command for the log, from its log.json.
func printIngest(w io.Writer, dir, url string) {
	b, err := os.ReadFile(filepath.Join(dir, "log.json"))
	if err != nil {
		return
	}
	var kf struct {
		PublicKey []byte `json:"public_key"`
		Origin    string `json:"origin"`
	}
	if json.Unmarshal(b, &kf) != nil {
		return
	}
	// --protocol: ctlimits ingest needs it for a URL not in the log list
	// (it assumes static only for file:// URLs).
	fmt.Fprintf(w, "ctlimits ingest --log %s --protocol static --key %s --origin %s\n", url, base64.StdEncoding.EncodeToString(kf.PublicKey), kf.Origin)
}

// entriesMode runs `ctgen -entries DATA`.
func entriesMode(data string, set map[string]bool, o EntriesOptions, start, logID string) error {
	for _, f := range []string{"out", "serve", "orders", "per-day"} {
		if set[f] {
			return fmt.Errorf("-%s: -entries writes a history into DATA; -out, -serve, -orders and -per-day don't apply", f)
		}
	}
	if data == "" {
		return errors.New("-entries: want a DATA directory")
	}
	if set["append"] {
		for _, f := range []string{"certs", "days", "start", "seed", "log-id", "hosting"} {
			if set[f] {
				return fmt.Errorf("-%s: -append grows the history in %s with its own settings (from %s); give only -append DAYS", f, data, stateName)
			}
		}
		if o.Append <= 0 {
			return fmt.Errorf("-append %d: want a positive number of days", o.Append)
		}
	} else {
		t, err := time.Parse("2006-01-02", start)
		if err != nil {
			return fmt.Errorf("-start %q: want a date like 2026-06-01", start)
		}
		o.Start = t
		o.LogID = defaultLogID(o.Seed)
		if logID != "" {
			if o.LogID, err = parseLogID(logID); err != nil {
				return fmt.Errorf("-log-id: %w", err)
			}
		}
	}
	t0 := time.Now()
	sum, err := WriteEntries(o)
	if err != nil {
		return err
	}
	printEntriesSummary(os.Stdout, data, sum, time.Since(t0))
	return nil
}
