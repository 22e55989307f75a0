package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/publicsuffix"

	"github.com/ctlimits/ctlimits/ingest/loglist"
	"github.com/ctlimits/ctlimits/sql"
)

// TestViewsOverRealNavigliTiles checks the certificates and orders views on
// real Let's Encrypt staging precertificates against counts computed here
// independently, straight from the log's names tiles: lowercase, dedupe,
// sort, SHA-256 of the comma-joined set, eTLD+1 from the PSL.
func TestViewsOverRealNavigliTiles(t *testing.T) {
	dir := needFixture(t, "navigli2025h2")
	sets := map[string]bool{}
	domains := map[string]bool{}
	entries := navigliNames(t, dir)
	lines := len(entries)
	for _, nl := range entries {
		names := []string{}
		for _, n := range append(nl.DNS, nl.Subject.CommonName) {
			if n != "" {
				names = append(names, strings.ToLower(n))
			}
		}
		slices.Sort(names)
		names = slices.Compact(names)
		sum := sha256.Sum256([]byte(strings.Join(names, ",")))
		sets[hex.EncodeToString(sum[:])] = true
		for _, n := range names {
			d, err := publicsuffix.EffectiveTLDPlusOne(n)
			if err != nil {
				d = n
			}
			domains[d] = true
		}
	}

	key := testKey(t)
	origin := "navigli.sunlight.geomys.org/2025h2"
	url := navigliServer(t, dir, 1024, key, origin)
	data := t.TempDir()
	if _, err := Run(context.Background(), Config{Log: logFor(t, key, loglist.Static, url, origin), Data: data}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var certs, precerts, staging, orders, distinctSets, distinctDomains int
	row := db.DB().QueryRow(`SELECT count(*), count(*) FILTER (WHERE precert AND NOT final),
		count(*) FILTER (WHERE issuer_group = 'letsencrypt-staging') FROM certificates`)
	if err := row.Scan(&certs, &precerts, &staging); err != nil {
		t.Fatal(err)
	}
	if certs != lines || precerts != lines || staging != lines {
		t.Fatalf("certificates %d (precert only %d, staging %d), want %d each", certs, precerts, staging, lines)
	}
	row = db.DB().QueryRow(`SELECT count(*), count(DISTINCT fqdn_set_hash),
		(SELECT count(DISTINCT d) FROM (SELECT unnest(registered_domains) AS d FROM orders)) FROM orders`)
	if err := row.Scan(&orders, &distinctSets, &distinctDomains); err != nil {
		t.Fatal(err)
	}
	if orders != lines || distinctSets != len(sets) || distinctDomains != len(domains) {
		t.Fatalf("orders %d, exact sets %d, registered domains %d; independently: %d, %d, %d",
			orders, distinctSets, distinctDomains, lines, len(sets), len(domains))
	}
	t.Logf("%d certificates, %d exact sets, %d registered domains", orders, distinctSets, distinctDomains)
}
