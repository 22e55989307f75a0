//go:build unix

package ingest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
)

// A lock path planted as a symlink (say to /etc/passwd, for a root cron
// job to overwrite) must be refused, and its target left alone.
func TestALockThatIsASymlinkIsRefused(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "x.lock")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	unlock, err := Lock(link)
	if err == nil {
		unlock()
		t.Fatal("a symlinked lock was taken")
	}
	if !strings.Contains(err.Error(), link) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("error %q should name the lock and say it is a symbolic link", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me\n" {
		t.Errorf("the link's target now holds %q", b)
	}
	// A dangling link must not create its target either.
	gone := filepath.Join(dir, "gone")
	link2 := filepath.Join(dir, "y.lock")
	os.Symlink(gone, link2)
	if _, err := Lock(link2); err == nil {
		t.Error("a dangling symlinked lock was taken")
	}
	if _, err := os.Lstat(gone); err == nil {
		t.Error("the dangling link's target was created")
	}
	// So must a hard link to another file (on systems that allow one).
	hard := filepath.Join(dir, "z.lock")
	if os.Link(target, hard) == nil {
		if _, err := Lock(hard); err == nil || !strings.Contains(err.Error(), "hard link") {
			t.Errorf("a hard-linked lock: got %v", err)
		}
		if b, _ := os.ReadFile(target); string(b) != "keep me\n" {
			t.Errorf("the hard link's other name now holds %q", b)
		}
	}
}

// Files and directories ingest creates follow the umask, as any other
// program's do, instead of being 0600 and 0700 whatever it is.
func TestIngestedFilesFollowTheUmask(t *testing.T) {
	l := mustSample(t)
	url := startServer(t, ctlogtest.NewServer(l, 600), true)
	for _, tt := range []struct {
		umask          int
		file, dir, tmp os.FileMode
	}{
		{0o022, 0o644, 0o755, 0o644},
		{0o002, 0o664, 0o775, 0o664},
		{0o077, 0o600, 0o700, 0o600},
	} {
		old := syscall.Umask(tt.umask)
		data := filepath.Join(t.TempDir(), "data")
		lg := staticLog(l, url)
		_, err := Run(context.Background(), Config{Log: lg, Data: data, FileEntries: 256, HTTP: testHTTP(&fakeClock{})})
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		check := func(p string, want os.FileMode) {
			t.Helper()
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("umask %03o: %s has mode %03o, want %03o", tt.umask, p, got, want)
			}
		}
		files, _ := filepath.Glob(filepath.Join(EntriesDir(data, lg), "*.parquet"))
		if len(files) != 3 {
			t.Fatalf("%d files, want 3", len(files))
		}
		for _, f := range files {
			check(f, tt.file)
		}
		check(statePath(data, lg.DirName()), tt.file)
		check(filepath.Join(data, "state", lg.DirName()+".lock"), tt.file)
		check(data, tt.dir)
		check(filepath.Join(data, "entries"), tt.dir)
		check(EntriesDir(data, lg), tt.dir)
		check(filepath.Join(data, "state"), tt.dir)
	}
}
