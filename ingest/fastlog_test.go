package ingest

import (
	"context"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
)

// A log of unsigned fast leaves ingests exactly like one of signed leaves:
// every entry parses, to the same row, field for field, but for what the
// signatures and the test CA's random keys make differ; and the rows carry
// the planned names.
func TestFastLeavesIngestLikeSignedOnes(t *testing.T) {
	plan := ctlogtest.DemoPlan()
	ingestPlan := func(fast bool) []tableRow {
		p := plan
		p.Fast = fast
		l, err := ctlogtest.FromPlan(p)
		if err != nil {
			t.Fatal(err)
		}
		s := ctlogtest.NewServer(l, int64(len(l.Entries)))
		srv := httptest.NewServer(s.Static())
		defer srv.Close()
		data := t.TempDir()
		sum, err := Run(context.Background(), Config{Log: staticLog(l, srv.URL+"/"), Data: data, HTTP: testHTTP(&fakeClock{})})
		if err != nil {
			t.Fatal(err)
		}
		rows := readRows(t, data)
		if sum.ParseErrors != 0 || len(rows) != len(l.Entries) {
			t.Fatalf("fast=%v: %d rows of %d entries, %d parse errors", fast, len(rows), len(l.Entries), sum.ParseErrors)
		}
		for i := range rows {
			if rows[i].LeafHash == "" || rows[i].Log == "" {
				t.Fatalf("fast=%v: entry %d lacks its leaf hash or log: %+v", fast, i, rows[i])
			}
			// An x509 entry's issuer key hash is kept only when its chain's
			// issuer signed it: the fast leaves are unsigned, so theirs is
			// NULL; a precertificate binds it inside the leaf.
			if wantHash := !fast || rows[i].EntryType == "precert"; wantHash != (rows[i].IssuerKeyHash != "") {
				t.Fatalf("fast=%v: entry %d (%s) issuer key hash %q, want one: %v", fast, i, rows[i].EntryType, rows[i].IssuerKeyHash, wantHash)
			}
			// The leaf hash covers the signature; the log ID and the
			// issuer key hash are of keys made afresh for each log.
			rows[i].LeafHash, rows[i].IssuerKeyHash, rows[i].Log = "", "", ""
		}
		return rows
	}
	signed, fast := ingestPlan(false), ingestPlan(true)
	for i := range signed {
		if !reflect.DeepEqual(signed[i], fast[i]) {
			t.Fatalf("entry %d differs:\nsigned %+v\nfast   %+v", i, signed[i], fast[i])
		}
	}
	// The planned names: one row per precertificate and per final
	// certificate.
	var want, got []string
	for _, c := range plan.Certs {
		names := slices.Sorted(slices.Values(c.DNSNames))
		want = append(want, strings.Join(names, " "))
		if c.Final {
			want = append(want, strings.Join(names, " "))
		}
	}
	for _, r := range fast {
		got = append(got, strings.Join(slices.Sorted(slices.Values(r.DNS)), " "))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the rows' names are not the plan's:\ngot  %q\nwant %q", got, want)
	}
}
