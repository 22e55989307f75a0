// Package sql is ctlimits' DuckDB layer: it opens an in-memory DuckDB over a
// DATA directory, creates the project's views from the embedded .sql files
// in views/ (in file name order, so later views can build on earlier ones),
// and runs queries with table, CSV or JSON output.
//
// Adding a view is adding a file: views/NNN_name.sql, a text/template with
// the fields of Params and the function quote (an SQL string literal).
package sql

import (
	"context"
	dbsql "database/sql"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	_ "github.com/marcboeker/go-duckdb" // registers the "duckdb" driver

	"github.com/ctlimits/ctlimits/sql/datadir"
)

//go:embed views/*.sql
var viewFiles embed.FS

// Params are what view templates can use.
type Params struct {
	// Data is the absolute DATA directory.
	Data string
	// EntriesGlob matches every entries file; HasEntries says whether any
	// exists (DuckDB refuses to read an empty glob).
	EntriesGlob string
	HasEntries  bool
	// DecisionFiles are the decisions files of the current decisions
	// generation (sql/datadir): every policy and stream of the last
	// replay. HasDecisions says whether there are any.
	DecisionFiles []string
	HasDecisions  bool
}

// DB is a DuckDB database with the project's views over one DATA directory.
type DB struct {
	db     *dbsql.DB
	Params Params
}

// Open creates the views over dataDir. The database itself is in memory:
// the Parquet files are the data, and nothing is written to DATA.
func Open(dataDir string) (*DB, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("couldn't open data directory %s: not a directory (run 'ctlimits ingest --data %s' first)", dataDir, dataDir)
	}
	p := Params{Data: abs, EntriesGlob: filepath.Join(abs, "entries", "*", "*.parquet")}
	if m, _ := filepath.Glob(p.EntriesGlob); len(m) > 0 {
		p.HasEntries = true
	}
	dd, err := datadir.Open(abs)
	if err != nil {
		return nil, err
	}
	if p.DecisionFiles, p.HasDecisions, err = dd.Decisions(); err != nil {
		return nil, err
	}
	db, err := dbsql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("couldn't start DuckDB: %w", err)
	}
	// One connection: views and settings live in the connection's catalog
	// for an in-memory database, and queries here are one at a time.
	db.SetMaxOpenConns(1)
	d := &DB{db: db, Params: p}
	if err := registerFunctions(context.Background(), db); err != nil {
		db.Close()
		return nil, err
	}
	if err := d.createViews(); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

func (d *DB) createViews() error {
	names, err := fs.Glob(viewFiles, "views/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	funcs := template.FuncMap{"quote": quote, "list": func(ss []string) string {
		q := make([]string, len(ss))
		for i, s := range ss {
			q[i] = quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}}
	for _, name := range names {
		src, err := viewFiles.ReadFile(name)
		if err != nil {
			return err
		}
		tmpl, err := template.New(name).Funcs(funcs).Parse(string(src))
		if err != nil {
			return fmt.Errorf("couldn't parse %s: %w", name, err)
		}
		var sb strings.Builder
		if err := tmpl.Execute(&sb, d.Params); err != nil {
			return fmt.Errorf("couldn't expand %s: %w", name, err)
		}
		if _, err := d.db.Exec(sb.String()); err != nil {
			return fmt.Errorf("couldn't create the view in %s: %w", name, err)
		}
	}
	return nil
}

// Close releases DuckDB.
func (d *DB) Close() error { return d.db.Close() }

// DB exposes the database/sql handle for callers that scan rows themselves.
func (d *DB) DB() *dbsql.DB { return d.db }
