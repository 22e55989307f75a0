package orderio

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	_ "github.com/marcboeker/go-duckdb"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/synth"
)

// certificatesDB makes a DuckDB whose certificates table has the columns
// of the certificates view that CertTableQuery reads.
func certificatesDB(t *testing.T) *dbsql.DB {
	t.Helper()
	db, err := dbsql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	mustExec(t, db, `CREATE TABLE certificates (issuer VARCHAR, serial VARCHAR, issuer_group VARCHAR,
		issued_at TIMESTAMP, not_before TIMESTAMP, not_after TIMESTAMP, names VARCHAR[])`)
	return db
}

func mustExec(t *testing.T, db *dbsql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func loadTable(t *testing.T, db *dbsql.DB) *CertTable {
	t.Helper()
	rows, err := db.Query(CertTableQuery)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := LoadCertTable(context.Background(), "test certificates", rows)
	if err != nil {
		t.Fatal(err)
	}
	tbl.Sort()
	return tbl
}

func readRecords(t *testing.T, in Reader) []Record {
	t.Helper()
	recs, err := ReadAll(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// The Go sort and the packed names give what DuckDB's ORDER BY issued_at,
// issuer, serial gives, row for row, including names that need JSON
// escapes, NULL lists and elements, and ties on issued_at broken by
// issuers and serials whose bytewise order differs from insertion order.
func TestCertTableSortsAndReadsLikeDuckDB(t *testing.T) {
	t.Parallel()
	db := certificatesDB(t)
	mustExec(t, db, `INSERT INTO certificates
		SELECT ['C=US, O=Let''s Encrypt, CN=R13', 'C=US, O=Let''s Encrypt, CN=E7', 'C=US, O=Other, CN=X'][1 + i % 3],
		       substr(md5(i::VARCHAR), 1, 4 + i % 9),
		       ['letsencrypt', 'letsencrypt', 'other'][1 + i % 3],
		       TIMESTAMP '2026-06-01' + INTERVAL (i // 7) MINUTE,
		       CASE WHEN i % 5 = 0 THEN NULL ELSE TIMESTAMP '2026-06-01' + INTERVAL (i // 7) MINUTE - INTERVAL 1 HOUR END,
		       TIMESTAMP '2026-08-30' + INTERVAL (i) SECOND,
		       list_transform(range(1 + i % 4), j -> 'n' || j || '.d' || (i % 97) || '.example')
		FROM range(20000) r(i)`)
	odd := [][]any{
		{`quote".example`, `back\slash.example`},
		{"bücher.example", "café.example"},
		{"tab\there", "nl\nhere", "\x01ctl", "emoji-😀.example"},
		{"[bracket],comma.example", "null"},
	}
	for i, names := range odd {
		list := "["
		for j := range names {
			if j > 0 {
				list += ", "
			}
			list += fmt.Sprintf("$%d", j+2)
		}
		args := append([]any{fmt.Sprintf("odd%d", i)}, names...)
		mustExec(t, db, `INSERT INTO certificates VALUES ('CN=Odd', $1, 'other', TIMESTAMP '2026-06-01 00:03:00', NULL, NULL, `+list+`])`, args...)
	}
	mustExec(t, db, `INSERT INTO certificates VALUES ('CN=Odd', 'nulllist', 'other', TIMESTAMP '2026-06-01 00:03:00', NULL, NULL, NULL)`)
	mustExec(t, db, `INSERT INTO certificates VALUES ('CN=Odd', 'nullelem', 'other', TIMESTAMP '2026-06-01 00:03:00', NULL, NULL, ['a.example', NULL, 'b.example'])`)
	mustExec(t, db, `INSERT INTO certificates VALUES ('CN=Odd', 'empty', 'other', TIMESTAMP '2026-06-01 00:03:00', NULL, NULL, [])`)

	got := readRecords(t, loadTable(t, db).Reader())

	rows, err := db.Query(`SELECT issuer, serial, issuer_group, issued_at, not_before, not_after, names
		FROM certificates ORDER BY issued_at, issuer, serial`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var issuer, serial, group string
		var at, nb, na dbsql.NullTime
		var names any
		if err := rows.Scan(&issuer, &serial, &group, &at, &nb, &na, &names); err != nil {
			t.Fatal(err)
		}
		want := Record{Line: int64(i) + 1, Cert: &CertRef{issuer, serial, group}}
		want.Order = replay.Order{IssuedAt: at.Time.UTC(), NotBefore: nullTime(nb), NotAfter: nullTime(na), Names: []string{}}
		list, _ := names.([]any)
		for _, e := range list {
			if s, ok := e.(string); ok {
				want.Order.Names = append(want.Order.Names, s)
			}
		}
		if i >= len(got) {
			t.Fatalf("CertTable has %d rows, DuckDB more", len(got))
		}
		g := got[i]
		if g.Order.Names == nil {
			g.Order.Names = []string{}
		}
		if !reflect.DeepEqual(g, want) {
			t.Fatalf("row %d:\n got %+v %+v\nwant %+v %+v", i, g, *g.Cert, want, *want.Cert)
		}
	}
	if i != len(got) || i != 20007 {
		t.Fatalf("CertTable has %d rows, DuckDB %d, want 20007", len(got), i)
	}
}

func nullTime(t dbsql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// collect is a Writer that keeps each row's decision by position.
type collect struct {
	mu   sync.Mutex
	rows map[int64]replay.Result
}

func (c *collect) Write(r *Row) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.rows[r.Order]; dup {
		return fmt.Errorf("position %d written twice", r.Order)
	}
	c.rows[r.Order] = r.Result.Clone()
	return nil
}

func (c *collect) Close() error { return nil }

// Replaying the parts of a partition apart, one Replayer each, decides
// every order as one Replayer replaying the whole history does: checked
// on generated Let's Encrypt-shaped issuance (synth.Realistic, with its
// multi-domain sets joining domains into components) under the token
// buckets and the legacy sliding windows.
func TestPartitionReplaysLikeOneReplayer(t *testing.T) {
	t.Parallel()
	orders := synth.Orders(synth.Realistic(7, 40000))
	path := filepath.Join(t.TempDir(), "orders.parquet")
	writeOrdersParquet(t, path, len(orders), func(i int) time.Time { return orders[i].IssuedAt },
		func(i int) []string { return orders[i].Names })
	db := certificatesDB(t)
	// Two issuers and serials that do not follow time order, so the
	// table's sort matters; a few names the model rejects, to be skipped.
	mustExec(t, db, `INSERT INTO certificates
		SELECT CASE WHEN hash(i) % 2 = 0 THEN 'CN=R13' ELSE 'CN=E7' END, md5(i::VARCHAR), 'letsencrypt',
		       issued_at, NULL, NULL, CASE WHEN i % 5000 = 17 THEN ['bad..name'] ELSE names END
		FROM (SELECT row_number() OVER () AS i, * FROM read_parquet('`+path+`'))`)
	tbl := loadTable(t, db)
	if tbl.Len() != len(orders) {
		t.Fatalf("%d certificates, want %d", tbl.Len(), len(orders))
	}
	for _, name := range []string{"letsencrypt", "letsencrypt-2019"} {
		p, err := replay.LookupPolicy(name)
		if err != nil {
			t.Fatal(err)
		}
		serial := &collect{rows: map[int64]replay.Result{}}
		var skipped []int64
		opt := Options{Skip: func(r *Record, _ error) { skipped = append(skipped, r.Line) }}
		if _, err := Stream(context.Background(), tbl.Reader(), p, serial, opt); err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{2, 3, 8} {
			var partSkipped []int64
			parts, st, err := tbl.Partition(context.Background(), workers, func(r *Record, _ error) { partSkipped = append(partSkipped, r.Line) })
			if err != nil {
				t.Fatal(err)
			}
			if st.Orders+st.Skipped != tbl.Len() || st.Skipped != len(skipped) || len(st.PerWorker) != workers || st.Largest < 1 || st.Components < workers {
				t.Fatalf("stats %+v for %d orders, %d skipped", st, tbl.Len(), len(skipped))
			}
			if len(parts) != workers {
				t.Fatalf("%d parts for %d workers", len(parts), workers)
			}
			if !reflect.DeepEqual(partSkipped, skipped) || len(skipped) != 8 {
				t.Fatalf("partition skipped %v, the serial replay %v", partSkipped, skipped)
			}
			parallel := &collect{rows: map[int64]replay.Result{}}
			domainPart := map[string]int{}
			var wg sync.WaitGroup
			errs := make([]error, len(parts))
			for w, part := range parts {
				// Each part is in time order and no domain is in two parts.
				var namer replay.Namer
				var prev int64
				for _, r := range readRecords(t, part) {
					if r.Line <= prev {
						t.Fatalf("part %d: line %d after %d", w, r.Line, prev)
					}
					prev = r.Line
					pr, _ := namer.Prepare(&r.Order)
					for _, d := range pr.Domains {
						if o, seen := domainPart[d]; seen && o != w {
							t.Fatalf("%s in parts %d and %d", d, o, w)
						}
						domainPart[d] = w
					}
				}
				part.(*tableReader).next = 0 // read it again below
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[w] = Stream(context.Background(), part, p, parallel, Options{Workers: 1, PositionFromLine: true})
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if len(parallel.rows) != len(serial.rows) {
				t.Fatalf("%s, %d workers: %d decisions, serial %d", name, workers, len(parallel.rows), len(serial.rows))
			}
			limited := 0
			for pos, want := range serial.rows {
				if got := parallel.rows[pos]; !reflect.DeepEqual(got, want) {
					t.Fatalf("%s, %d workers, order %d:\n got %+v\nwant %+v", name, workers, pos, got, want)
				}
				if want.Kind == replay.Limited {
					limited++
				}
			}
			if limited == 0 {
				t.Fatalf("%s: no order limited: the test proves little", name)
			}
		}
	}
}

// A partition of nothing is one empty part.
func TestPartitionOfNothing(t *testing.T) {
	t.Parallel()
	tbl := loadTable(t, certificatesDB(t))
	parts, _, err := tbl.Partition(context.Background(), 4, nil)
	if err != nil || len(parts) != 1 {
		t.Fatalf("%d parts, %v", len(parts), err)
	}
	if n, err := parts[0].Read(make([]Record, 4)); n != 0 || err != io.EOF {
		t.Fatalf("read %d, %v", n, err)
	}
}
