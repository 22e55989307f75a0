package sql

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctlimits/ctlimits/ingest"
	"github.com/ctlimits/ctlimits/ingest/loglist"
)

// ingestSample ingests testdata/ctlog (a file:// tile directory) into a
// fresh DATA directory.
func ingestSample(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join("..", "testdata", "ctlog"))
	// log.json holds the sample log's origin and public key.
	b, err := os.ReadFile(filepath.Join(dir, "log.json"))
	if err != nil {
		t.Fatal(err)
	}
	var kf struct {
		Origin    string `json:"origin"`
		PublicKey []byte `json:"public_key"`
	}
	if err := json.Unmarshal(b, &kf); err != nil {
		t.Fatal(err)
	}
	lg, err := loglist.Custom("file://"+dir, loglist.Static, kf.PublicKey, kf.Origin)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	if _, err := ingest.Run(context.Background(), ingest.Config{Log: lg, Data: data, FileEntries: 512}); err != nil {
		t.Fatal(err)
	}
	return data
}

func query(t *testing.T, db *DB, q string, f Format) string {
	t.Helper()
	var b bytes.Buffer
	if err := db.Query(context.Background(), q, &b, f); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestEntriesViewCoversEveryFile(t *testing.T) {
	db, err := Open(ingestSample(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct {
		name, query string
		format      Format
		want        string
	}{
		{"counts every entry once", "SELECT count(*) AS n, count(DISTINCT idx) AS d, min(idx) AS lo, max(idx) AS hi FROM entries", CSV, "n,d,lo,hi\n1000,1000,0,999\n"},
		{"splits precerts and certificates", "SELECT entry_type, count(*) AS n FROM entries GROUP BY 1 ORDER BY 1", CSV, "entry_type,n\nprecert,500\nx509,500\n"},
		{"has no parse errors", "SELECT count(*) AS n FROM entries WHERE parse_error IS NOT NULL", CSV, "n\n0\n"},
		{"reads names as lists", "SELECT dns_names[1] AS first FROM entries WHERE idx = 0", CSV, "first\nwww.site0.example\n"},
		{"renders blobs as hex in JSON", "SELECT length(hex(leaf_hash)) AS l FROM entries WHERE idx = 1", JSON, "[\n{\"l\":64}\n]\n"},
		{"reads timestamps as UTC", "SELECT strftime(logged_at, '%Y-%m-%dT%H:%M:%S') AS t FROM entries WHERE idx = 0", CSV, "t\n2026-03-01T00:00:00\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := query(t, db, tt.query, tt.format); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	if got := query(t, db, "SELECT idx, entry_type FROM entries ORDER BY idx LIMIT 2", Table); !strings.HasPrefix(got, "idx  entry_type\n0    precert\n1    x509\n") {
		t.Errorf("table output:\n%s", got)
	}
}

func TestEntriesViewIsEmptyButTypedWithoutFiles(t *testing.T) {
	data := t.TempDir()
	os.MkdirAll(filepath.Join(data, "entries"), 0o755)
	db, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := query(t, db, "SELECT count(*) AS n, count(dns_names) AS d FROM entries", CSV); got != "n,d\n0,0\n" {
		t.Errorf("got %q", got)
	}
}

func TestOpenRefusesAMissingDirectory(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "nope")); err == nil || !strings.Contains(err.Error(), "ctlimits ingest") {
		t.Fatalf("got %v", err)
	}
}
