package sql

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
)

// writeDecisions writes a decisions part file to data as 'ctlimits replay
// --data' does, with orderio's Parquet writer: one new order per name, a
// minute apart from 2026-03-01.
func writeDecisions(t *testing.T, data string, names ...string) string {
	t.Helper()
	dir := filepath.Join(data, "decisions", "policy=letsencrypt") // the layout before generations, which sql still reads
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "part-00000.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := orderio.NewWriterWith("parquet", f, orderio.WriterOptions{CT: true, Policy: "letsencrypt"})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i, name := range names {
		at := t0.Add(time.Duration(i) * time.Minute)
		var n replay.Namer
		p, err := n.Prepare(&replay.Order{IssuedAt: at, Names: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		p.NotBefore = at.Add(-time.Hour).UnixNano()
		p.NotAfter = at.Add(90 * 24 * time.Hour).UnixNano()
		res := replay.Result{Kind: replay.New, IssuedAt: p.IssuedAt}
		cert := &orderio.CertRef{Issuer: "CN=R10,O=Let's Encrypt,C=US", Serial: "0" + string(rune('a'+i%6)), IssuerGroup: "letsencrypt"}
		if err := w.Write(&orderio.Row{Order: int64(i), Prepared: &p, Result: &res, Cert: cert}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDecisionsViewTimeQueries: the decisions files carry time-zone
// annotated timestamps, which DuckDB reads as TIMESTAMPTZ; without the ICU
// extension (offline) date_trunc, strftime and ::DATE on those fail with a
// Binder Error. The view gives plain UTC TIMESTAMPs, as entries has.
func TestDecisionsViewTimeQueries(t *testing.T) {
	data := t.TempDir()
	writeDecisions(t, data, "a.example", "b.example")
	db, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct{ query, want string }{
		{"SELECT date_trunc('day', issued_at) AS d, count(*) AS n FROM decisions GROUP BY 1", "d,n\n2026-03-01,2\n"},
		{"SELECT strftime(max(issued_at), '%Y-%m-%d %H:%M') AS t FROM decisions", "t\n2026-03-01 00:01\n"},
		{"SELECT DISTINCT issued_at::DATE AS d FROM decisions", "d\n2026-03-01\n"},
		{"SELECT min(not_before)::DATE AS nb, max(not_after)::DATE AS na, max(retry_after) AS r FROM decisions", "nb,na,r\n2026-02-28,2026-05-30,\n"},
		{"SELECT typeof(issued_at) AS a, typeof(retry_after) AS b, typeof(not_before) AS c, typeof(not_after) AS d FROM decisions LIMIT 1", "a,b,c,d\nTIMESTAMP,TIMESTAMP,TIMESTAMP,TIMESTAMP\n"},
	} {
		if got := query(t, db, tt.query, CSV); got != tt.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tt.query, got, tt.want)
		}
	}
}

func describe(t *testing.T, db *DB, view string) string {
	t.Helper()
	return query(t, db, "SELECT column_name, column_type FROM (DESCRIBE "+view+")", CSV)
}

// TestEmptyViewsMatchTheFiles: with no entries or decisions files the views
// are empty, and their columns and types must be exactly those of the
// views over real files, or a query written against one breaks on the
// other.
func TestEmptyViewsMatchTheFiles(t *testing.T) {
	full := ingestSample(t)
	writeDecisions(t, full, "a.example")
	dbFull, err := Open(full)
	if err != nil {
		t.Fatal(err)
	}
	defer dbFull.Close()
	dbEmpty, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dbEmpty.Close()
	for _, view := range []string{"entries", "certificates", "orders", "decisions"} {
		got, want := describe(t, dbEmpty, view), describe(t, dbFull, view)
		if got != want {
			t.Errorf("%s: empty view\n%s\nview over files\n%s", view, got, want)
		}
		if strings.Count(want, "\n") < 5 {
			t.Errorf("%s: too few columns: %s", view, want)
		}
	}
}
