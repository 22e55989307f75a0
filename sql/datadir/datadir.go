// Package datadir owns the DATA directory: its layout, its format version,
// its locks, and the one way ctlimits writes a file there (durably: a
// temporary file in the same directory, fsynced, renamed into place, and the
// directory fsynced).
//
// The layout (format version 1):
//
//	DATA/
//	  FORMAT                                  "ctlimits-data 1": the layout version
//	  entries/log=<log-id>/<first>-<last>.parquet   ingest: immutable, one row per log entry
//	  state/<log-id>.json                      ingest: verified position, tree head, frontier
//	  state/<log-id>.lock                      ingest: one ingest per log at a time
//	  decisions/CURRENT                        replay: the name of the current generation
//	  decisions/<generation>/policy=<name>/<stream>-part-<n>.parquet
//	  decisions.lock                           replay: one replay at a time
//	  replay/<policy-digest>/...               replay: the replayer's state at watermarks
//	  shards/<N>/...                           shard: N shards of whole components and their workers' decisions (replay/shard)
//	  shards.lock                              shard: one sharding at a time
//	  reports/<time>/{run.json,diff.md,report.json,report.md,report.html}
//	  run.lock                                 run: one nightly job at a time
//
// Everything ctlimits writes goes through this package, so every file gets
// the same guarantees: a reader sees the old file or the new one, never a
// part; a crash leaves at worst a hidden temporary file (".*.tmp"), which
// the next command owning that directory sweeps; files are created 0666
// and directories 0777 less the process umask, like any Unix tool.
package datadir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/renameio/v2"
)

// FormatVersion is the layout version this build reads and writes. A DATA
// directory written by a newer layout is refused rather than misread.
const FormatVersion = 1

const formatFile = "FORMAT"

// Dir is a DATA directory.
type Dir struct {
	// Root is the directory as the user named it (for messages and paths).
	Root string
}

// Open opens an existing DATA directory and checks its format version. A
// directory written before the FORMAT file existed (it has entries/ or
// decisions/ but no FORMAT) is version 1.
func Open(root string) (*Dir, error) {
	st, err := os.Stat(root)
	if err != nil || !st.IsDir() {
		return nil, fmt.Errorf("couldn't open data directory %s: not a directory (run 'ctlimits ingest --data %s --log LOG' first)", root, root)
	}
	d := &Dir{Root: root}
	if err := d.checkFormat(); err != nil {
		return nil, err
	}
	return d, nil
}

// Create opens root, creating it (and its FORMAT file) if needed.
func Create(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o777); err != nil {
		return nil, fmt.Errorf("couldn't create data directory %s: %w", root, err)
	}
	d := &Dir{Root: root}
	if err := d.checkFormat(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(d.Path(formatFile)); errors.Is(err, fs.ErrNotExist) {
		if err := WriteFile(d.Path(formatFile), []byte(fmt.Sprintf("ctlimits-data %d\n", FormatVersion))); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *Dir) checkFormat() error {
	b, err := os.ReadFile(d.Path(formatFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // older than the FORMAT file, or new: version 1
	}
	if err != nil {
		return fmt.Errorf("couldn't read %s: %w", d.Path(formatFile), err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 || f[0] != "ctlimits-data" {
		return fmt.Errorf("%s: not a ctlimits data directory format file (want \"ctlimits-data %d\"); is %s another program's directory?", d.Path(formatFile), FormatVersion, d.Root)
	}
	v, err := strconv.Atoi(f[1])
	if err != nil || v < 1 {
		return fmt.Errorf("%s: bad format version %q", d.Path(formatFile), f[1])
	}
	if v > FormatVersion {
		return fmt.Errorf("%s was written by a newer ctlimits (data format %d; this build reads %d): upgrade ctlimits", d.Root, v, FormatVersion)
	}
	return nil
}

// Path joins elem under the root.
func (d *Dir) Path(elem ...string) string {
	return filepath.Join(append([]string{d.Root}, elem...)...)
}

// EntriesDir is where one log's entries files live.
func (d *Dir) EntriesDir(logID string) string { return d.Path("entries", "log="+logID) }

// StateFile is one log's ingest state.
func (d *Dir) StateFile(logID string) string { return d.Path("state", logID+".json") }

// ReportsDir holds the nightly job's records and reports.
func (d *Dir) ReportsDir() string { return d.Path("reports") }

// ReplayStateDir holds the replayer's saved states for one policy digest.
func (d *Dir) ReplayStateDir(digest string) string { return d.Path("replay", digest) }

// Lock names, each taken with Lock.
const (
	RunLock       = "run.lock"
	DecisionsLock = "decisions.lock"
)

// WriteFile writes data to path durably and atomically (see the package
// comment), creating path's directory if needed.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// ReplaceFile is WriteFile for a file that exists and keeps its
// permissions (a document the user made private stays private).
func ReplaceFile(path string, data []byte) error {
	f, err := renameio.NewPendingFile(path, renameio.WithExistingPermissions(), renameio.WithTempDir(filepath.Dir(path)))
	if err != nil {
		return fmt.Errorf("couldn't create %s: %w", path, explain(err))
	}
	defer f.Cleanup()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("couldn't write %s: %w", path, explain(err))
	}
	if err := f.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("couldn't write %s: %w", path, explain(err))
	}
	return SyncDir(filepath.Dir(path))
}

// Write runs write against a temporary file beside path and, if it
// succeeds, puts the file in place durably. On any error nothing at path
// changes and the temporary file is removed. Errors name path.
func Write(path string, write func(io.Writer) error) error {
	f, err := NewFile(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := write(f); err != nil {
		return err
	}
	return f.Commit()
}

// SyncDir fsyncs a directory, so a rename inside it survives a crash.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("couldn't sync %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("couldn't sync %s: %w", dir, explain(err))
	}
	return nil
}

// explain adds what to do to the two write errors an operator can fix.
func explain(err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w (permission denied: check the owner and mode of the data directory)", err)
	case isNoSpace(err):
		return fmt.Errorf("%w (the disk is full: free space and run again; nothing already written was changed)", err)
	}
	return err
}

// IsTemp says whether a directory entry is a temporary file or directory
// of an unfinished write. ctlimits never leaves any other hidden entry in
// the directories it owns: renameio's pending files are ".<name><random>",
// a replay's new decisions generation is ".gen-<time>.tmp", so in those
// directories every hidden name is one.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && name != "." && name != ".."
}

// SweepTempOf removes the temporary files a crashed Write of path left
// beside it, in a directory other commands write too (each takes its own
// lock for its own files).
func SweepTempOf(path string) (int, error) {
	prefix := "." + filepath.Base(path)
	return sweep(filepath.Dir(path), func(name string) bool {
		rest, ok := strings.CutPrefix(name, prefix)
		return ok && rest != "" && strings.Trim(rest, "-0123456789") == ""
	})
}

// SweepTemp removes the temporary files and directories a crashed command
// left in dir (not below it). Call it only while holding the lock that
// owns dir, so no running command's temporary file is removed. It returns
// how many it removed.
func SweepTemp(dir string) (int, error) { return sweep(dir, IsTemp) }

func sweep(dir string, leftover func(name string) bool) (int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("couldn't list %s: %w", dir, err)
	}
	n := 0
	for _, e := range ents {
		if !leftover(e.Name()) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return n, fmt.Errorf("couldn't remove the leftover %s: %w", filepath.Join(dir, e.Name()), err)
		}
		n++
	}
	return n, nil
}

// File is a file being written durably: it appears at its path, whole,
// on Commit, and never if Abort comes first.
type File struct {
	*renameio.PendingFile
	path string
	done bool
}

// NewFile starts writing path (its directory is created).
func NewFile(path string) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return nil, fmt.Errorf("couldn't create %s: %w", filepath.Dir(path), explain(err))
	}
	f, err := renameio.NewPendingFile(path, renameio.WithPermissions(0o666), renameio.WithTempDir(filepath.Dir(path)))
	if err != nil {
		return nil, fmt.Errorf("couldn't create %s: %w", path, explain(err))
	}
	return &File{PendingFile: f, path: path}, nil
}

// Commit puts the file in place.
func (f *File) Commit() error {
	f.done = true
	if err := f.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("couldn't write %s: %w", f.path, explain(err))
	}
	return SyncDir(filepath.Dir(f.path))
}

// Abort removes the unfinished file; after Commit it does nothing.
func (f *File) Abort() {
	if !f.done {
		f.done = true
		f.Cleanup()
	}
}
