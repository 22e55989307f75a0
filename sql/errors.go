package sql

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// FileError is a file in DATA that DuckDB could not read: damaged, or not
// readable by this user. Its message names the file and says what to do.
type FileError struct {
	Path string
	// Data is the DATA directory as the user gave it, for the commands to
	// suggest.
	Data string
	// Permission says the file could not be opened for lack of
	// permission; otherwise it is damaged.
	Permission bool
	// Given says the file is a decisions file named on the command line
	// (OpenDecisions: a plan's), not one of DATA's.
	Given bool
	Err   error
}

func (e *FileError) Error() string {
	if e.Permission {
		return fmt.Sprintf("couldn't read %s: permission denied: make it readable by this user (chmod, chown), or run as its owner", e.Path)
	}
	if e.Given {
		return fmt.Sprintf("couldn't read %s: %v\n(a damaged decisions file: write it again with 'ctlimits replay --orders PLAN --out %s')", e.Path, e.Err, e.Path)
	}
	if strings.Contains(e.Path, string(filepath.Separator)+"decisions"+string(filepath.Separator)) {
		return fmt.Sprintf("couldn't read %s: %v\n(a damaged decisions file: move it away, then re-run 'ctlimits replay --data %s', which writes all decisions again)", e.Path, e.Err, e.Data)
	}
	return fmt.Sprintf("couldn't read %s: %v\n(a damaged entries file: move it out of %s, and queries run without its log entries%s; to have them again, ingest that range into a new data directory with 'ctlimits ingest --data NEWDIR --from FIRST --to LAST+1')", e.Path, e.Err, e.Data, entriesRange(e.Path))
}

func (e *FileError) Unwrap() error { return e.Err }

var entriesName = regexp.MustCompile(`^0*(\d+)-0*(\d+)\.parquet$`)

// entriesRange names the entries a file holds, from its name
// (<first>-<last>.parquet), or is empty.
func entriesRange(path string) string {
	m := entriesName.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return ""
	}
	return fmt.Sprintf(" (entries %s to %s of its log)", m[1], m[2])
}

// permissionDenied says whether err is a lack of permission, as Go or
// DuckDB (whose errors are text) reports it.
func permissionDenied(err error) bool {
	return errors.Is(err, fs.ErrPermission) || strings.Contains(err.Error(), "Permission denied")
}

// damagedData says whether a DuckDB error that names no DATA file may
// still come from one: the error classes a damaged Parquet page gives
// (the others, Parser, Binder, Catalog, Conversion ..., are the query's),
// and I/O errors about Parquet (not, say, a CSV file the query names).
func damagedData(msg string) bool {
	for _, c := range []string{"Invalid Error:", "Internal Error:", "Serialization Error:"} {
		if strings.Contains(msg, c) {
			return true
		}
	}
	return (strings.Contains(msg, "IO Error:") || strings.Contains(msg, "Invalid Input Error:")) && strings.Contains(msg, "arquet")
}

// Explain turns a DuckDB error over this DATA into a *FileError when a
// DATA file is to blame: the file DuckDB names, or, when it names none
// (a damaged page says only "don't know what type"), the first file that
// fails a full read. Other errors are returned as they are.
func (d *DB) Explain(err error) error {
	if err == nil || errors.As(err, new(*FileError)) {
		return err
	}
	files := append(append([]string{}, d.Params.EntriesFiles...), d.Params.DecisionsFiles...)
	msg := err.Error()
	for _, f := range files {
		if strings.Contains(msg, f) {
			return d.fileError(f, err)
		}
	}
	if !damagedData(msg) {
		return err
	}
	for _, f := range files {
		// count(COLUMNS(*)) reads every column of every row group.
		q := "SELECT count(COLUMNS(*)) FROM read_parquet(" + quote(escapeGlob(f)) + ")"
		if _, ferr := d.db.ExecContext(context.Background(), q); ferr != nil {
			return d.fileError(f, err)
		}
	}
	return err
}

func (d *DB) fileError(path string, err error) error {
	fe := &FileError{Path: path, Data: d.dataArg, Err: err, Permission: permissionDenied(err), Given: d.given}
	if f, oerr := os.Open(path); oerr != nil {
		fe.Permission = fe.Permission || permissionDenied(oerr)
	} else {
		f.Close()
	}
	return fe
}
