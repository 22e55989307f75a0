package sql

import (
	"os"
	"path/filepath"
	"testing"
)

// DuckDB spills a sort larger than its memory limit to files. They must
// not land in the working directory (DuckDB's default, .tmp there: a
// nightly run wrote gigabytes into its cwd and filled the disk), and the
// spill directory must be gone once the DB is closed.
func TestSpillGoesToATempDirectoryRemovedOnClose(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.DB().Exec(`SET memory_limit = '32MB'; SET threads = 1; SET preserve_insertion_order = false`); err != nil {
		t.Fatal(err)
	}
	var n int64
	// About 200 MB of rows to sort: four times the limit, so it spills.
	if err := d.DB().QueryRow(`SELECT count(*) FROM (SELECT i, md5(i::VARCHAR) || md5((i+1)::VARCHAR) AS s FROM range(3000000) t(i) ORDER BY s)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3_000_000 {
		t.Fatalf("%d rows", n)
	}
	spills, _ := filepath.Glob(filepath.Join(tmp, "ctlimits-duckdb-*"))
	if len(spills) != 1 {
		t.Fatalf("want one spill directory in TMPDIR, found %v", spills)
	}
	if _, err := os.Stat(filepath.Join(cwd, ".tmp")); err == nil {
		t.Fatal("DuckDB spilled into the working directory's .tmp")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spills[0]); !os.IsNotExist(err) {
		t.Fatalf("the spill directory %s is still there after Close (%v)", spills[0], err)
	}
}
