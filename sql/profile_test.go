package sql

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
)

func TestCertificateProfileFunction(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := `SELECT certificate_profile(TIMESTAMP '2026-05-01 00:00:00', TIMESTAMP '2026-07-29 23:59:59', 3) AS a,
	  certificate_profile(TIMESTAMP '2026-05-01 00:00:00', TIMESTAMP '2026-06-14 23:59:59', 25) AS b,
	  certificate_profile(TIMESTAMP '2026-05-01 00:00:00', TIMESTAMP '2026-06-14 23:59:59', 26) AS c,
	  certificate_profile(TIMESTAMP '2026-05-01 00:00:00', TIMESTAMP '2026-05-07 15:59:59', 1) AS d,
	  certificate_profile(TIMESTAMP '2028-03-01 00:00:00', TIMESTAMP '2028-04-14 23:59:59', 1) AS e,
	  certificate_profile(NULL, TIMESTAMP '2026-05-07 15:59:59', 1) AS f`
	if got, want := query(t, db, q, CSV), "a,b,c,d,e,f\nclassic,tlsserver,unknown,shortlived,classic,\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// The orders view's profile is replay.InferProfile of each certificate.
func TestOrdersViewProfile(t *testing.T) {
	data := ingestSample(t)
	db, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.DB().Query(`SELECT not_before, not_after, len(names), profile FROM orders WHERE names IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var nb, na time.Time
		var names int
		var profile string
		if err := rows.Scan(&nb, &na, &names, &profile); err != nil {
			t.Fatal(err)
		}
		if want := replay.InferProfile(nb.UnixNano(), na.UnixNano(), names).String(); profile != want {
			t.Fatalf("%s..%s, %d names: %s, want %s", nb, na, names, profile, want)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no orders")
	}
}

// The decisions view infers the profile from the certificate columns, so
// decision files need not (and do not) store it.
func TestDecisionsViewProfile(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "decisions", "policy=letsencrypt")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "part-00000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := orderio.NewWriterWith("parquet", f, orderio.WriterOptions{CT: true, Policy: "letsencrypt"})
	if err != nil {
		t.Fatal(err)
	}
	nb := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i, l := range []time.Duration{90 * 24 * time.Hour, 45 * 24 * time.Hour, 160 * time.Hour, 365 * 24 * time.Hour} {
		var n replay.Namer
		p, err := n.Prepare(&replay.Order{IssuedAt: nb.Add(time.Hour), NotBefore: nb, NotAfter: nb.Add(l - time.Second), Names: []string{"a.example"}})
		if err != nil {
			t.Fatal(err)
		}
		res := replay.Result{Kind: replay.New, IssuedAt: p.IssuedAt}
		if err := w.Write(&orderio.Row{Order: int64(i), Prepared: &p, Result: &res, Cert: &orderio.CertRef{Serial: "0" + string(rune('a'+i))}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, want := query(t, db, `SELECT profile FROM decisions ORDER BY "order"`, CSV), "profile\nclassic\ntlsserver\nshortlived\nunknown\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
