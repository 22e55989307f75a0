package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run this binary as ctlimits itself, in a child
// process that can be killed for real.
func TestMain(m *testing.M) {
	if os.Getenv("CTLIMITS_AS_MAIN") == "1" {
		os.Exit(runMain(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestKillNineDuringIngestThenResume kills an ingest with SIGKILL after its
// first file is committed, resumes it, and checks the rows equal a clean
// run's: nothing lost, nothing duplicated, no temporary file left.
func TestKillNineDuringIngestThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir, _ := filepath.Abs("../../testdata/ctlog")
	// Serve the sample log slowly, so the child is mid-run when killed.
	files := http.FileServer(http.Dir(dir))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/tile/data/") {
			time.Sleep(300 * time.Millisecond)
		}
		files.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	args := sampleArgs(t)
	args[1] = "http://" + ln.Addr().String() + "/" // --log URL instead of file://
	args = append(args, "--protocol", "static", "--file-entries", "256", "--workers", "1", "--quiet")

	killed := t.TempDir()
	cmd := exec.Command(os.Args[0], append([]string{"ingest", "--data", killed}, args...)...)
	cmd.Env = append(os.Environ(), "CTLIMITS_AS_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	entries := filepath.Join(killed, "entries")
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, _ := filepath.Glob(filepath.Join(entries, "*", "*.parquet"))
		if len(m) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no entries file appeared")
		}
		time.Sleep(5 * time.Millisecond) // polling a child process; no clock to inject
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	m, _ := filepath.Glob(filepath.Join(entries, "*", "*.parquet"))
	if len(m) >= 4 {
		t.Fatalf("the child finished before it was killed (%d files); the test proves nothing", len(m))
	}

	// Resume in-process, and compare with a clean run.
	if code, _, stderr := run(t, "", append([]string{"ingest", "--data", killed}, args...)...); code != exitOK {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	clean := t.TempDir()
	if code, _, stderr := run(t, "", append([]string{"ingest", "--data", clean}, args...)...); code != exitOK {
		t.Fatalf("clean: exit %d: %s", code, stderr)
	}
	q := "SELECT idx, serial, hex(leaf_hash) FROM entries ORDER BY idx"
	_, a, _ := run(t, "", "sql", "--data", killed, "--format", "csv", q)
	_, b, _ := run(t, "", "sql", "--data", clean, "--format", "csv", q)
	if a != b || strings.Count(a, "\n") != 1001 {
		t.Fatalf("resumed rows differ from a clean run (%d vs %d lines)", strings.Count(a, "\n"), strings.Count(b, "\n"))
	}
	if tmp, _ := filepath.Glob(filepath.Join(entries, "*", ".*tmp")); len(tmp) > 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}
