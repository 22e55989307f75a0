package sql

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyDir copies the regular files of a tree.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDataPathsAreNotPatterns: --data names a directory, whatever
// characters its name has; d[1] is not d1, and d* not every sibling.
func TestDataPathsAreNotPatterns(t *testing.T) {
	sample := ingestSample(t)
	writeDecisions(t, sample, "a.example", "b.example")
	for _, tc := range []struct {
		data     string
		siblings []string // also hold data, and must not be read
	}{
		{"d[1]", []string{"d1"}},
		{"d*", []string{"dx", "d"}},
		{"d?", []string{"dy"}},
		{"it's", nil},
		{`back\slash`, []string{"back"}},
	} {
		t.Run(tc.data, func(t *testing.T) {
			base := t.TempDir()
			data := filepath.Join(base, tc.data)
			copyDir(t, sample, data)
			// Siblings with other data: 3 decisions and no entries.
			for _, s := range tc.siblings {
				writeDecisions(t, filepath.Join(base, s), "x.example", "y.example", "z.example")
			}
			db, err := Open(data)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := query(t, db, "SELECT (SELECT count(*) FROM entries) AS e, (SELECT count(*) FROM decisions) AS d", CSV); got != "e,d\n1000,2\n" {
				t.Errorf("got %q, want 1000 entries and 2 decisions", got)
			}
		})
	}
}

// TestDataPathDuckDBCannotRead: DuckDB reads no path with both a backslash
// and a glob character; Open says so, naming the file.
func TestDataPathDuckDBCannotRead(t *testing.T) {
	data := filepath.Join(t.TempDir(), `a\b[1]`)
	path := writeDecisions(t, data, "a.example")
	_, err := Open(data)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "rename") {
		t.Fatalf("got %v", err)
	}
}
