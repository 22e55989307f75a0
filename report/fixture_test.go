package report

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	_ "github.com/marcboeker/go-duckdb"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
)

// cert is one certificate of a test scenario.
type cert struct {
	at       time.Time
	names    []string
	group    string        // default letsencrypt; "plan" for a planned order
	lifetime time.Duration // default 90 days
	log      string        // default "logA"
}

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// scenario is the report tests' data: a hosting provider issuing for 61
// customer sites under customers.example, and another one under
// hostb.example in the same bursts (one account, probably); a blog renewing
// its certificate; a client re-issuing one exact set every hour; an old
// one-year certificate about to expire; certificates from staging and
// another CA, which the replay leaves out.
func scenario() []cert {
	var cs []cert
	cs = append(cs, cert{at: time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC), names: []string{"blog.example.org", "www.blog.example.org"}})
	cs = append(cs, cert{at: time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC), names: []string{"example.org"}})
	cs = append(cs, cert{at: time.Date(2025, 3, 20, 12, 0, 0, 0, time.UTC), names: []string{"legacy.example.org"}, lifetime: 365 * 24 * time.Hour, log: "logB"})
	cs = append(cs, cert{at: t0.Add(-time.Minute), names: []string{"portal.customers.example", "portal.example.io"}})
	for i := range 61 {
		at := t0.Add(time.Duration(i) * 10 * time.Minute)
		cs = append(cs, cert{at: at, names: []string{fmt.Sprintf("site%02d.customers.example", i), fmt.Sprintf("www.site%02d.customers.example", i)}})
		cs = append(cs, cert{at: at.Add(20 * time.Second), names: []string{fmt.Sprintf("shop%02d.hostb.example", i)}, log: "logB"})
	}
	cs = append(cs, cert{at: t0.Add(101 * time.Minute), names: []string{"www.blog.example.org", "BLOG.example.org"}})
	for i := range 7 {
		cs = append(cs, cert{at: t0.Add(28*time.Hour + time.Duration(i)*time.Hour), names: []string{"api.example.net"}})
	}
	cs = append(cs, cert{at: t0.Add(30 * time.Hour), names: []string{"test.example.net"}, group: "letsencrypt-staging"})
	cs = append(cs, cert{at: t0.Add(31 * time.Hour), names: []string{"other.example.com"}, group: "other"})
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].at.Before(cs[j].at) })
	return cs
}

var issuers = map[string]string{
	"letsencrypt":         "CN=R12,O=Let's Encrypt,C=US",
	"letsencrypt-staging": "CN=(STAGING) Riddling Rhubarb R12,O=(STAGING) Let's Encrypt,C=US",
	"other":               "CN=Other CA,O=Other,C=US",
}

// fixtureDB builds the views' contract as tables (and the decisions as a
// view over real decision Parquet, written by orderio) in an in-memory
// DuckDB: entries, certificates, orders, decisions. The letsencrypt group
// is replayed, as 'ctlimits replay --data' does by default.
func fixtureDB(t testing.TB, certs []cert) *dbsql.DB {
	t.Helper()
	db, err := dbsql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE entries (log VARCHAR, idx BIGINT, logged_at TIMESTAMP, entry_type VARCHAR, issuer VARCHAR, serial VARCHAR, parse_error VARCHAR)`)
	exec(`CREATE TABLE certificates (issuer VARCHAR, issuer_key_hash BLOB, serial VARCHAR, issuer_group VARCHAR, issued_at TIMESTAMP,
	  not_before TIMESTAMP, not_after TIMESTAMP, names VARCHAR[], precert BOOLEAN, final BOOLEAN, logs VARCHAR[])`)
	exec(`CREATE TABLE orders (issuer VARCHAR, issuer_key_hash BLOB, serial VARCHAR, issuer_group VARCHAR, issued_at TIMESTAMP,
	  not_before TIMESTAMP, not_after TIMESTAMP, names VARCHAR[], fqdn_set_hash VARCHAR, registered_domains VARCHAR[])`)
	path := filepath.Join(t.TempDir(), "decisions.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := replay.LookupPolicy("letsencrypt")
	w, err := orderio.NewWriterWith("parquet", f, orderio.WriterOptions{CT: true, Policy: p.Name, Group: "plan"})
	if err != nil {
		t.Fatal(err)
	}
	r := replay.NewReplayer(p)
	var namer replay.Namer
	var res replay.Result
	var order int64
	idx := map[string]int64{}
	for i, c := range certs {
		group := c.group
		if group == "" {
			group = "letsencrypt"
		}
		life := c.lifetime
		if life == 0 {
			life = 90 * 24 * time.Hour
		}
		log := c.log
		if log == "" {
			log = "logA"
		}
		nb := c.at.Add(-time.Hour)
		na := nb.Add(life)
		if group == "plan" {
			// A planned order: no certificate in CT, a decision like
			// 'ctlimits replay --orders PLAN --out FILE.parquet' writes.
			pr, err := namer.Prepare(&replay.Order{IssuedAt: c.at, Names: c.names, NotBefore: nb, NotAfter: na})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Decide(&pr, &res); err != nil {
				t.Fatal(err)
			}
			if err := w.Write(&orderio.Row{Order: order, Prepared: &pr, Result: &res}); err != nil {
				t.Fatal(err)
			}
			order++
			continue
		}
		serial := fmt.Sprintf("%04x", i+1)
		exec(`INSERT INTO entries VALUES (?, ?, ?, 'precert', ?, ?, NULL)`, log, idx[log], c.at, issuers[group], serial)
		idx[log]++
		exec(`INSERT INTO certificates VALUES (?, NULL, ?, ?, ?, ?, ?, `+sqlList(c.names)+`, true, false, `+sqlList([]string{log})+`)`,
			issuers[group], serial, group, c.at, nb, na)
		norm, err := replay.NormalizeNames(c.names)
		if err != nil {
			t.Fatal(err)
		}
		var doms []string
		for _, n := range norm {
			d, _ := replay.RegisteredDomain(n)
			if !contains(doms, d) {
				doms = append(doms, d)
			}
		}
		sort.Strings(doms)
		exec(`INSERT INTO orders VALUES (?, NULL, ?, ?, ?, ?, ?, `+sqlList(norm)+`, ?, `+sqlList(doms)+`)`,
			issuers[group], serial, group, c.at, nb, na, replay.HashNames(norm).String())
		if group != "letsencrypt" {
			continue
		}
		pr, err := namer.Prepare(&replay.Order{IssuedAt: c.at, Names: c.names, NotBefore: nb, NotAfter: na})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Decide(&pr, &res); err != nil {
			t.Fatal(err)
		}
		if err := w.Write(&orderio.Row{Order: order, Prepared: &pr, Result: &res, Cert: &orderio.CertRef{Issuer: issuers[group], Serial: serial, IssuerGroup: group}}); err != nil {
			t.Fatal(err)
		}
		order++
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	exec(`CREATE VIEW decisions AS SELECT *, decision = 'limited' AS over_model FROM read_parquet('` + path + `')`)
	return db
}

func build(t testing.TB, db *dbsql.DB, opts Options) *Report {
	t.Helper()
	r, err := Build(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// planScenario is a plan: 60 customer sites under customers.example, ten
// minutes apart, and a CI job ordering one exact set every hour, seven
// times.
func planScenario() []cert {
	var cs []cert
	for i := range 60 {
		cs = append(cs, cert{at: t0.Add(time.Duration(i) * 10 * time.Minute), names: []string{fmt.Sprintf("site%02d.customers.example", i)}, group: "plan"})
	}
	for i := range 7 {
		cs = append(cs, cert{at: t0.Add(28*time.Hour + time.Duration(i)*time.Hour), names: []string{"ci.example.net"}, group: "plan"})
	}
	return cs
}
