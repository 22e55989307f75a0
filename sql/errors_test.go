package sql

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDamagedFilesAreNamed: a truncated, garbage or corrupted entries or
// decisions file gives an error naming it and saying what to do, whether
// DuckDB trips on it opening the views or in a query.
func TestDamagedFilesAreNamed(t *testing.T) {
	sample := ingestSample(t)
	writeDecisions(t, sample, "a.example", "b.example")
	entries, _ := filepath.Glob(filepath.Join(sample, "entries", "*", "*.parquet"))
	decisions, _ := filepath.Glob(filepath.Join(sample, "decisions", "*", "*.parquet"))
	if len(entries) != 2 || len(decisions) != 1 {
		t.Fatalf("sample has %d entries files and %d decisions files", len(entries), len(decisions))
	}
	damage := map[string]func([]byte) []byte{
		"truncated": func(b []byte) []byte { return b[:len(b)/2] },
		"garbage":   func([]byte) []byte { return []byte("garbage, not Parquet") },
		// Pages scrambled, the footer intact: DuckDB opens the file and
		// fails reading it, naming no file.
		"corrupted": func(b []byte) []byte {
			for i := 8; i < len(b)/2; i++ {
				b[i] ^= 0x5a
			}
			return b
		},
	}
	for _, kind := range []string{"entries", "decisions"} {
		for how, f := range damage {
			t.Run(kind+"/"+how, func(t *testing.T) {
				data := t.TempDir()
				copyDir(t, sample, data)
				src := entries[1]
				want := "ctlimits ingest --data NEWDIR --from FIRST"
				if kind == "decisions" {
					src, want = decisions[0], "re-run 'ctlimits replay --data "+data+"'"
				}
				rel, _ := filepath.Rel(sample, src)
				bad := filepath.Join(data, rel)
				b, err := os.ReadFile(bad)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(bad, f(b), 0o644); err != nil {
					t.Fatal(err)
				}
				err = openAndQuery(data)
				var fe *FileError
				if !errors.As(err, &fe) || fe.Path != bad || fe.Permission {
					t.Fatalf("got %v, want a FileError for %s", err, bad)
				}
				if msg := err.Error(); !strings.Contains(msg, bad) || !strings.Contains(msg, "damaged "+kind+" file") || !strings.Contains(msg, want) {
					t.Errorf("message: %s", msg)
				}
			})
		}
	}
}

// openAndQuery opens data and reads every column of every view.
func openAndQuery(data string) error {
	db, err := Open(data)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, v := range []string{"entries", "certificates", "orders", "decisions"} {
		var w strings.Builder
		if err := db.Query(context.Background(), "SELECT * FROM "+v, &w, CSV); err != nil {
			return err
		}
	}
	return nil
}

// TestPermissionErrorsAreSaidSo: a file DuckDB cannot open for lack of
// permission is reported as such, not as damaged. Root reads any file, so
// the classification is checked on the errors Go and DuckDB give.
func TestPermissionErrorsAreSaidSo(t *testing.T) {
	data := t.TempDir()
	path := writeDecisions(t, data, "a.example")
	db, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, cause := range []error{
		fmt.Errorf("couldn't run query: %w", &fs.PathError{Op: "open", Path: path, Err: fs.ErrPermission}),
		fmt.Errorf(`couldn't run query: IO Error: Cannot open file "%s": Permission denied`, path),
	} {
		err := db.Explain(cause)
		var fe *FileError
		if !errors.As(err, &fe) || !fe.Permission || fe.Path != path {
			t.Fatalf("%v: got %#v", cause, err)
		}
		if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "permission denied: make it readable") || strings.Contains(msg, "damaged") {
			t.Errorf("message: %s", msg)
		}
	}
	if os.Geteuid() == 0 {
		t.Log("running as root: a chmod 000 file stays readable, so no real one is tried")
		return
	}
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(path, 0o644)
	err = openAndQuery(data)
	var fe *FileError
	if !errors.As(err, &fe) || !fe.Permission {
		t.Fatalf("got %v", err)
	}
}

// TestQueryErrorsStayTheQuerys: a mistake in the query is not blamed on a
// file.
func TestQueryErrorsStayTheQuerys(t *testing.T) {
	data := t.TempDir()
	writeDecisions(t, data, "a.example")
	db, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"SELECT nope FROM decisions", "SELECT * FROM read_csv('/nonexistent.csv')", "SELEC 1"} {
		var w strings.Builder
		err := db.Query(context.Background(), q, &w, CSV)
		if err == nil || errors.As(err, new(*FileError)) {
			t.Errorf("%s: got %v", q, err)
		}
	}
}
