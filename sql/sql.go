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
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	_ "github.com/marcboeker/go-duckdb" // registers the "duckdb" driver

	"github.com/ctlimits/ctlimits/ingest/entryschema"
	"github.com/ctlimits/ctlimits/replay/orderio"
)

//go:embed views/*.sql
var viewFiles embed.FS

// Params are what view templates can use.
type Params struct {
	// Data is the absolute DATA directory.
	Data string
	// EntriesGlob matches every entries file, for DuckDB's read_parquet:
	// DATA with its glob characters escaped, so that a DATA named d[1] or
	// d* means that directory and no other. HasEntries says whether any
	// entries file exists (DuckDB refuses to read an empty glob).
	EntriesGlob string
	HasEntries  bool
	// DecisionsGlob matches the decisions files of the last replay (one
	// per policy it used: production and staging are replayed apart);
	// HasDecisions says whether any exists.
	DecisionsGlob string
	HasDecisions  bool
	// EntriesColumns and DecisionsColumns are the select lists of the
	// views over the files, EmptyEntries and EmptyDecisions those of the
	// empty views that stand in without files: both from the writers'
	// Arrow schemas (see schema.go).
	EntriesColumns, EmptyEntries     string
	DecisionsColumns, EmptyDecisions string
}

// DecisionsDir is where `ctlimits replay --data` writes decisions, one
// directory per policy, one part file per replay worker:
// DATA/decisions/policy=<name>/part-<n>.parquet.
func DecisionsDir(data, policy string) string {
	return filepath.Join(data, "decisions", "policy="+policy)
}

// DecisionsPart names the n-th part file in a DecisionsDir.
func DecisionsPart(n int) string { return fmt.Sprintf("part-%05d.parquet", n) }

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
	p := Params{
		Data:          abs,
		EntriesGlob:   filepath.Join(globEscape(abs), "entries", "*", "*.parquet"),
		DecisionsGlob: filepath.Join(globEscape(abs), "decisions", "policy=*", "part-*.parquet"),
	}
	// Look for files in Go, not with filepath.Glob: DATA is a name, not a
	// pattern.
	if p.HasEntries, err = hasFiles(filepath.Join(abs, "entries"), "*.parquet"); err != nil {
		return nil, err
	}
	if p.HasDecisions, err = hasFiles(filepath.Join(abs, "decisions"), "part-*.parquet"); err != nil {
		return nil, err
	}
	if err := p.setColumns(); err != nil {
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
	funcs := template.FuncMap{"quote": func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }}
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

// hasFiles reports whether a subdirectory of dir holds a file matching
// pattern. A missing dir has none.
func hasFiles(dir, pattern string) (bool, error) {
	subs, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("couldn't list %s: %w", dir, err)
	}
	for _, sub := range subs {
		if !sub.IsDir() {
			continue
		}
		names, err := os.ReadDir(filepath.Join(dir, sub.Name()))
		if err != nil {
			return false, fmt.Errorf("couldn't list %s: %w", filepath.Join(dir, sub.Name()), err)
		}
		for _, n := range names {
			if ok, _ := filepath.Match(pattern, n.Name()); ok && !n.IsDir() {
				return true, nil
			}
		}
	}
	return false, nil
}

// globEscape makes a path match itself only in a DuckDB glob: DuckDB has
// no escape character, but a bracket expression of one character matches
// just that character.
func globEscape(path string) string {
	return strings.NewReplacer("[", "[[]", "*", "[*]", "?", "[?]").Replace(path)
}

func (p *Params) setColumns() error {
	entries, err := viewColumns(entryschema.Schema)
	if err != nil {
		return fmt.Errorf("couldn't type the entries view: %w", err)
	}
	decisions, err := viewColumns(orderio.CTDecisionSchema)
	if err != nil {
		return fmt.Errorf("couldn't type the decisions view: %w", err)
	}
	p.EntriesColumns, p.EmptyEntries = selectList(entries), emptyList(entries)
	p.DecisionsColumns, p.EmptyDecisions = selectList(decisions), emptyList(decisions)
	return nil
}

// Close releases DuckDB.
func (d *DB) Close() error { return d.db.Close() }

// DB exposes the database/sql handle for callers that scan rows themselves.
func (d *DB) DB() *dbsql.DB { return d.db }
