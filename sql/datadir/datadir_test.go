package datadir

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFormatVersion(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if _, err := Create(root); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "FORMAT")); string(b) != "ctlimits-data 1\n" {
		t.Fatalf("FORMAT = %q", b)
	}
	for _, c := range []struct{ format, want string }{
		{"ctlimits-data 2\n", "written by a newer ctlimits (data format 2; this build reads 1): upgrade ctlimits"},
		{"something else\n", "not a ctlimits data directory format file"},
		{"ctlimits-data x\n", `bad format version "x"`},
	} {
		os.WriteFile(filepath.Join(root, "FORMAT"), []byte(c.format), 0o644)
		if _, err := Open(root); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("FORMAT %q: got %v, want %q", c.format, err, c.want)
		}
	}
	if _, err := Open(filepath.Join(root, "missing")); err == nil || !strings.Contains(err.Error(), "run 'ctlimits ingest") {
		t.Fatalf("missing directory: %v", err)
	}
}

func TestWriteRespectsTheUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "metrics.prom")
	if err := WriteFile(path, []byte("x 1\n")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644 under umask 022 (node_exporter must read it)", st.Mode().Perm())
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o755 {
		t.Fatalf("directory mode %v, want 0755", st.Mode().Perm())
	}
}

func TestWriteLeavesNothingOnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	os.WriteFile(path, []byte("old"), 0o644)
	boom := errors.New("boom")
	err := Write(path, func(w io.Writer) error { w.Write([]byte("partial")); return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("the old file changed: %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("a temporary file was left: %v", ents)
	}
}

func TestLockRefusesSymlinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o644)
	link := filepath.Join(dir, "run.lock")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("got %v, want a refusal naming the link", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Fatalf("the link's target was written: %q", b)
	}
	unlock, err := Lock(filepath.Join(dir, "real.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(filepath.Join(dir, "real.lock")); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	unlock()
}

// A replay can be killed at any instant of a commit; readers must see the
// whole old generation or the whole new one, and the next replay sweeps
// what was left.
func TestGenerationsSurviveAKillAtEveryStep(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"writing", "renamed", "switched", "done"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			d, err := Create(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			old := commitGeneration(t, d, time.Unix(1, 0), "old")
			g, err := d.NewGeneration(time.Unix(2, 0))
			if err != nil {
				t.Fatal(err)
			}
			dir, _ := g.PolicyDir("letsencrypt")
			WriteFile(filepath.Join(dir, "production-part-00000.parquet"), []byte("new"))
			root := d.Path("decisions")
			final := filepath.Join(root, g.name)
			want := old
			switch step { // the commit's steps, stopped after each
			case "writing":
			case "renamed":
				os.Rename(g.tmp, final)
			case "switched":
				os.Rename(g.tmp, final)
				WriteFile(filepath.Join(root, "CURRENT"), []byte(g.name+"\n"))
				want = "new"
			case "done":
				if err := g.Commit(); err != nil {
					t.Fatal(err)
				}
				want = "new"
			}
			if got := readOnly(t, d); got != want {
				t.Fatalf("readers see %q, want %q", got, want)
			}
			// The next replay: sweep, write, commit; only it remains.
			if _, err := d.SweepDecisions(); err != nil {
				t.Fatal(err)
			}
			commitGeneration(t, d, time.Unix(3, 0), "next")
			ents, _ := os.ReadDir(root)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if len(ents) != 2 { // CURRENT and the one generation
				t.Fatalf("decisions/ holds %v after the next replay", names)
			}
		})
	}
}

func TestDecisionsReadsTheLayoutBeforeGenerations(t *testing.T) {
	t.Parallel()
	d, _ := Create(t.TempDir())
	WriteFile(d.Path("decisions", "policy=letsencrypt", "part-00000.parquet"), []byte("legacy"))
	if got := readOnly(t, d); got != "legacy" {
		t.Fatalf("got %q", got)
	}
	commitGeneration(t, d, time.Unix(5, 0), "new")
	if _, err := os.Stat(d.Path("decisions", "policy=letsencrypt")); !os.IsNotExist(err) {
		t.Fatalf("the old layout was kept after a commit: %v", err)
	}
}

func commitGeneration(t *testing.T, d *Dir, now time.Time, content string) string {
	t.Helper()
	g, err := d.NewGeneration(now)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := g.PolicyDir("letsencrypt")
	if err := WriteFile(filepath.Join(dir, "production-part-00000.parquet"), []byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := g.Commit(); err != nil {
		t.Fatal(err)
	}
	return content
}

// readOnly returns the content of the single current decisions file.
func readOnly(t *testing.T, d *Dir) string {
	t.Helper()
	files, ok, err := d.Decisions()
	if err != nil || !ok || len(files) != 1 {
		t.Fatalf("Decisions: %v %v %v", files, ok, err)
	}
	b, _ := os.ReadFile(files[0])
	return string(b)
}
