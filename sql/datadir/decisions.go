package datadir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Decisions are kept in generations. A replay writes every policy and
// stream it replays into a new, hidden generation directory; Commit then
// names it in decisions/CURRENT with one atomic rename, and only after
// that removes the older generations. Whatever instant a replay is killed
// at, readers see the whole previous replay or the whole new one: never a
// mix of two, never nothing.

const (
	decisionsDir = "decisions"
	currentFile  = "CURRENT"
	genPrefix    = "gen-"
)

// Generation is a decisions generation being written.
type Generation struct {
	d    *Dir
	name string // gen-<UTC time>
	tmp  string // the hidden directory it is written in
	done bool
}

// NewGeneration starts a decisions generation. The caller holds the
// DecisionsLock, writes into PolicyDir, then calls Commit or Abort.
func (d *Dir) NewGeneration(now time.Time) (*Generation, error) {
	root := d.Path(decisionsDir)
	if err := os.MkdirAll(root, 0o777); err != nil {
		return nil, fmt.Errorf("couldn't create %s: %w", root, explain(err))
	}
	g := &Generation{d: d, name: genPrefix + now.UTC().Format("20060102T150405.000000000Z")}
	g.tmp = filepath.Join(root, "."+g.name+".tmp")
	if err := os.Mkdir(g.tmp, 0o777); err != nil {
		return nil, fmt.Errorf("couldn't create a decisions generation in %s: %w", root, explain(err))
	}
	return g, nil
}

// PolicyDir is the directory, inside the generation, for one policy's
// decisions; it is created.
func (g *Generation) PolicyDir(policy string) (string, error) {
	dir := filepath.Join(g.tmp, "policy="+SafeName(policy))
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", fmt.Errorf("couldn't create %s: %w", dir, explain(err))
	}
	return dir, nil
}

// FinalDir is where a path inside the generation will be once committed
// (for messages).
func (g *Generation) FinalDir(p string) string {
	rel, err := filepath.Rel(g.tmp, p)
	if err != nil {
		return p
	}
	return filepath.Join(g.d.Path(decisionsDir), g.name, rel)
}

// Commit makes the generation current and removes the older ones.
func (g *Generation) Commit() error {
	root := g.d.Path(decisionsDir)
	final := filepath.Join(root, g.name)
	if err := syncTree(g.tmp); err != nil {
		return err
	}
	if err := os.Rename(g.tmp, final); err != nil {
		return fmt.Errorf("couldn't put the decisions in place: %w", explain(err))
	}
	g.done = true
	if err := SyncDir(root); err != nil {
		return err
	}
	// The switch: readers follow CURRENT.
	if err := WriteFile(filepath.Join(root, currentFile), []byte(g.name+"\n")); err != nil {
		return err
	}
	// Older generations (and the layout before generations) are garbage
	// now; a failure to remove them is harmless, the next replay retries.
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() && n != g.name && (strings.HasPrefix(n, genPrefix) || strings.HasPrefix(n, "policy=")) {
			os.RemoveAll(filepath.Join(root, n))
		}
	}
	return nil
}

// Abort removes an uncommitted generation.
func (g *Generation) Abort() {
	if !g.done {
		os.RemoveAll(g.tmp)
		g.done = true
	}
}

// Decisions returns the current decisions' policy directories and their
// Parquet files, in name order. ok is false when there are none. DATA
// directories from before generations (decisions/policy=*/) are read as
// they are.
func (d *Dir) Decisions() (files []string, ok bool, err error) {
	root := d.Path(decisionsDir)
	gen := root
	b, err := os.ReadFile(filepath.Join(root, currentFile))
	switch {
	case err == nil:
		name := strings.TrimSpace(string(b))
		if !strings.HasPrefix(name, genPrefix) || strings.ContainsAny(name, `/\`) {
			return nil, false, fmt.Errorf("%s: %q is not a decisions generation; remove the file and run 'ctlimits replay' again", filepath.Join(root, currentFile), name)
		}
		gen = filepath.Join(root, name)
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, false, fmt.Errorf("couldn't read %s: %w", filepath.Join(root, currentFile), explain(err))
	}
	pols, err := os.ReadDir(gen)
	if errors.Is(err, fs.ErrNotExist) {
		if gen != root {
			return nil, false, fmt.Errorf("%s names %s, which is missing: run 'ctlimits replay' again", filepath.Join(root, currentFile), gen)
		}
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("couldn't list %s: %w", gen, explain(err))
	}
	for _, p := range pols {
		if !p.IsDir() || !strings.HasPrefix(p.Name(), "policy=") {
			continue
		}
		parts, err := os.ReadDir(filepath.Join(gen, p.Name()))
		if err != nil {
			return nil, false, fmt.Errorf("couldn't list %s: %w", filepath.Join(gen, p.Name()), explain(err))
		}
		for _, f := range parts {
			if !f.IsDir() && !IsTemp(f.Name()) && strings.HasSuffix(f.Name(), ".parquet") {
				files = append(files, filepath.Join(gen, p.Name(), f.Name()))
			}
		}
	}
	sort.Strings(files)
	return files, len(files) > 0, nil
}

// DecisionsModTime is when the current decisions were committed (zero if
// there are none), to tell a report that newer entries were ingested since.
func (d *Dir) DecisionsModTime() time.Time {
	if st, err := os.Stat(d.Path(decisionsDir, currentFile)); err == nil {
		return st.ModTime()
	}
	files, ok, err := d.Decisions() // the layout before generations
	if err != nil || !ok {
		return time.Time{}
	}
	var t time.Time
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.ModTime().After(t) {
			t = st.ModTime()
		}
	}
	return t
}

// EntriesFiles lists DATA's entries files (finished ones, not an ingest's
// temporary files) by their path under DATA/entries, with slashes, and
// their sizes. Entries files are immutable (ingest only adds files), so
// the list says what entries DATA holds. No entries directory is none.
func (d *Dir) EntriesFiles() (map[string]int64, error) {
	files := map[string]int64{}
	root := d.Path("entries")
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		if e.IsDir() || !strings.HasSuffix(p, ".parquet") || IsTemp(e.Name()) {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = info.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't list the entries files: %w", err)
	}
	return files, nil
}

// EntriesNewerThan counts the entries files written after t.
func (d *Dir) EntriesNewerThan(t time.Time) int {
	n := 0
	filepath.WalkDir(d.Path("entries"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".parquet") || IsTemp(e.Name()) {
			return nil
		}
		if info, err := e.Info(); err == nil && info.ModTime().After(t) {
			n++
		}
		return nil
	})
	return n
}

// SweepDecisions removes generations a killed replay left unfinished.
// The caller holds the DecisionsLock.
func (d *Dir) SweepDecisions() (int, error) { return SweepTemp(d.Path(decisionsDir)) }

// SafeName makes a policy or stream name safe as one path element.
func SafeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == '=' || r < ' ' {
			return '_'
		}
		return r
	}, s)
}

// syncTree fsyncs every file and directory under dir, so the rename that
// publishes dir publishes complete contents.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("couldn't sync %s: %w", p, err)
		}
		defer f.Close()
		if err := f.Sync(); err != nil {
			return fmt.Errorf("couldn't sync %s: %w", p, explain(err))
		}
		return nil
	})
}

// Root is the generation's directory while it is being written.
func (g *Generation) Root() string { return g.tmp }

// Name is the generation's name (gen-<time>), as CURRENT will hold it.
func (g *Generation) Name() string { return g.name }

// CurrentGeneration names the current decisions generation, and its
// directory; "" if there is none (or only the layout before generations).
func (d *Dir) CurrentGeneration() (name, dir string, err error) {
	root := d.Path(decisionsDir)
	b, err := os.ReadFile(filepath.Join(root, currentFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("couldn't read %s: %w", filepath.Join(root, currentFile), explain(err))
	}
	name = strings.TrimSpace(string(b))
	return name, filepath.Join(root, name), nil
}

// Keep puts a file of the current generation into this one, unchanged: a
// hard link (a copy where links are not possible), so keeping last
// night's decisions for the days a replay did not touch costs nothing.
func (g *Generation) Keep(src, policyDir string) error {
	dst := filepath.Join(policyDir, filepath.Base(src))
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("couldn't keep %s: %w", src, err)
	}
	defer in.Close()
	return Write(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
