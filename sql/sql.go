// Package sql is ctlimits' DuckDB layer: it opens an in-memory DuckDB over a
// DATA directory, creates the project's views from the embedded .sql files
// in views/ (in file name order, so later views can build on earlier ones),
// and runs queries with table, CSV or JSON output.
//
// Adding a view is adding a file: views/NNN_name.sql, a text/template with
// the fields of Params and the functions quote (an SQL string literal) and
// files (an SQL list of file names for read_parquet).
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
	"github.com/ctlimits/ctlimits/sql/datadir"
)

//go:embed views/*.sql
var viewFiles embed.FS

// Params are what view templates can use.
type Params struct {
	// Data is the absolute DATA directory.
	Data string
	// EntriesFiles are the entries files, DATA/entries/*/*.parquet;
	// HasEntries says whether there are any (DuckDB refuses to read no
	// files).
	EntriesFiles []string
	HasEntries   bool
	// DecisionsFiles are the decisions files of the current decisions
	// generation (sql/datadir): every policy and stream of the last
	// replay. HasDecisions says whether there are any.
	DecisionsFiles []string
	HasDecisions   bool
	// EntriesColumns and DecisionsColumns are the select lists of the
	// views over the files, EmptyEntries and EmptyDecisions those of the
	// empty views that stand in without files: both from the writers'
	// Arrow schemas (see schema.go).
	EntriesColumns, EmptyEntries     string
	DecisionsColumns, EmptyDecisions string
}

// DB is a DuckDB database with the project's views over one DATA directory.
type DB struct {
	db     *dbsql.DB
	Params Params
	// dataArg is DATA as the caller named it, for messages.
	dataArg string
	// spill is DuckDB's temp_directory, removed by Close.
	spill string
	// given: the decisions files were named (OpenDecisions).
	given bool
}

// Open creates the views over dataDir. The database itself is in memory:
// the Parquet files are the data, and nothing is written to DATA.
func Open(dataDir string) (*DB, error) {
	return open(dataDir, nil, false)
}

// OpenDecisions is Open with the decisions view over the given decision
// files (Parquet, as 'ctlimits replay --orders PLAN --out FILE.parquet'
// writes them) instead of DATA's current decisions: a plan's what-if
// decisions, which never go into DATA. dataDir may be empty: no entries,
// and so no certificates.
func OpenDecisions(dataDir string, files []string) (*DB, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("no decisions files given")
	}
	abs := make([]string, len(files))
	for i, f := range files {
		a, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("couldn't read decisions %s: %w", f, err)
		}
		if st.IsDir() {
			return nil, fmt.Errorf("decisions %s is a directory: give the Parquet file 'ctlimits replay --orders PLAN --out FILE.parquet' wrote", f)
		}
		abs[i] = a
	}
	return open(dataDir, abs, true)
}

func open(dataDir string, decisions []string, given bool) (*DB, error) {
	p := Params{}
	if dataDir != "" {
		abs, err := filepath.Abs(dataDir)
		if err != nil {
			return nil, err
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("couldn't open data directory %s: not a directory (run 'ctlimits ingest --data %s' first)", dataDir, dataDir)
		}
		p.Data = abs
		// The files are listed here, in Go, and handed to DuckDB one by
		// one: DATA is a name, not a pattern (a glob built from it read
		// d1 for a DATA named d[1], and every sibling for d*).
		if p.EntriesFiles, err = listFiles(filepath.Join(abs, "entries"), "*", "*.parquet"); err != nil {
			return nil, err
		}
		dd, err := datadir.Open(abs)
		if err != nil {
			return nil, err
		}
		if !given {
			if p.DecisionsFiles, _, err = dd.Decisions(); err != nil {
				return nil, err
			}
		}
	}
	if given {
		p.DecisionsFiles = decisions
	}
	p.HasEntries, p.HasDecisions = len(p.EntriesFiles) > 0, len(p.DecisionsFiles) > 0
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
	d := &DB{db: db, Params: p, dataArg: dataDir, given: given}
	// DuckDB spills large sorts and joins to files, by default into .tmp
	// in the working directory, which may be anywhere (a cron job's, a
	// read-only one, a small disk). They go to a directory of their own in
	// the system's temporary directory, removed by Close once DuckDB has
	// closed (DuckDB aborts the process if it goes first).
	if d.spill, err = os.MkdirTemp("", "ctlimits-duckdb-"); err != nil {
		db.Close()
		return nil, fmt.Errorf("couldn't make DuckDB's spill directory: %w", err)
	}
	if _, err := db.Exec("SET temp_directory = " + quote(d.spill)); err != nil {
		d.Close()
		return nil, fmt.Errorf("couldn't set DuckDB's spill directory: %w", err)
	}
	if err := registerFunctions(context.Background(), db); err != nil {
		d.Close()
		return nil, err
	}
	if given {
		if err := d.checkDecisionColumns(); err != nil {
			d.Close()
			return nil, err
		}
	}
	if err := d.createViews(); err != nil {
		err = d.Explain(err)
		d.Close()
		return nil, err
	}
	return d, nil
}

// checkDecisionColumns refuses, by name, a given decisions file without
// the columns a DATA decisions file has (the policy, the certificate's
// validity): one written in another format or by an older ctlimits.
func (d *DB) checkDecisionColumns() error {
	for _, f := range d.Params.DecisionsFiles {
		var n int64
		err := d.db.QueryRow(`SELECT count(*) FILTER (name IN ('policy', 'not_before', 'registered_domains')) FROM parquet_schema(` + quote(escapeGlob(f)) + `)`).Scan(&n)
		if err != nil {
			return fmt.Errorf("couldn't read decisions %s: not a Parquet file ('ctlimits replay --orders PLAN --out FILE.parquet' writes one): %w", f, err)
		}
		if n < 3 {
			return fmt.Errorf("decisions %s lack the policy and not_before columns: rewrite them with 'ctlimits replay --orders PLAN --out FILE.parquet' (this ctlimits)", f)
		}
	}
	return nil
}

func (d *DB) createViews() error {
	names, err := fs.Glob(viewFiles, "views/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	funcs := template.FuncMap{"quote": quote, "files": fileList}
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

// listFiles lists the files matching pattern in the subdirectories of dir
// matching subPattern, sorted. A missing dir has none.
func listFiles(dir, subPattern, pattern string) ([]string, error) {
	subs, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, listError(dir, err)
	}
	var files []string
	for _, sub := range subs {
		if ok, _ := filepath.Match(subPattern, sub.Name()); !ok || !sub.IsDir() {
			continue
		}
		subDir := filepath.Join(dir, sub.Name())
		names, err := os.ReadDir(subDir)
		if err != nil {
			return nil, listError(subDir, err)
		}
		for _, n := range names {
			if ok, _ := filepath.Match(pattern, n.Name()); ok && !n.IsDir() {
				files = append(files, filepath.Join(subDir, n.Name()))
			}
		}
	}
	sort.Strings(files)
	return files, nil
}

func listError(dir string, err error) error {
	if permissionDenied(err) {
		return fmt.Errorf("couldn't list %s: permission denied: make it readable by this user (chmod, chown), or run as its owner: %w", dir, err)
	}
	return fmt.Errorf("couldn't list %s: %w", dir, err)
}

// fileList is an SQL list of file names for read_parquet, which takes each
// as a glob when it has one of * ? [ in it. Those characters are then
// matched literally by a bracket expression of their own: DuckDB's globs
// have no escape character, and do not work at all on a path with a
// backslash, which only a name without the three can have.
func fileList(files []string) (string, error) { return FileList(files) }

// FileList is an SQL list literal of file names for read_parquet, each
// matching only itself (see fileList).
func FileList(files []string) (string, error) {
	quoted := make([]string, len(files))
	for i, f := range files {
		if strings.ContainsAny(f, "*?[") {
			if strings.Contains(f, `\`) {
				return "", fmt.Errorf("DuckDB cannot read %s: a path with both a backslash and one of * ? [ in it; rename the directory", f)
			}
			f = escapeGlob(f)
		}
		quoted[i] = quote(f)
	}
	return "[" + strings.Join(quoted, ", ") + "]", nil
}

// escapeGlob makes a path without a backslash match only itself as a
// DuckDB glob.
func escapeGlob(f string) string {
	return strings.NewReplacer("[", "[[]", "*", "[*]", "?", "[?]").Replace(f)
}

// quote is an SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

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
// Close closes DuckDB, then removes its spill directory.
func (d *DB) Close() error {
	err := d.db.Close()
	if d.spill != "" {
		err = errors.Join(err, os.RemoveAll(d.spill))
	}
	return err
}

// DB exposes the database/sql handle for callers that scan rows themselves.
func (d *DB) DB() *dbsql.DB { return d.db }
