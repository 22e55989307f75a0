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

// TestKillNineDuringReplayThenReplay kills replays of the demo log with
// SIGKILL at moments spread over their run (reading, replaying, saving
// states, writing decisions, switching generations), then replays again
// without --from-scratch: the decisions must equal a clean replay's, the
// saved states must still be usable, and nothing temporary may be left.
func TestKillNineDuringReplayThenReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	data := t.TempDir()
	if code, _, stderr := run(t, "", "demo", "--data", data, "--log-dir", "../../testdata/demolog"); code != exitOK {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	replayArgs := []string{"replay", "--data", data, "--issuers", "all", "--keep-days", "120", "--slice", "12h"}
	if code, _, stderr := run(t, "", append(replayArgs, "--from-scratch")...); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ref := filepath.Join(t.TempDir(), "ref.parquet")
	copyDecisions(t, data, ref)
	// How long a replay of everything takes here, to spread the kills.
	start := time.Now()
	if code, _, stderr := run(t, "", append(replayArgs, "--from-scratch")...); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	took := time.Since(start)
	killedSomewhere := 0
	for i := 1; i <= 6; i++ {
		cmd := exec.Command(os.Args[0], append(replayArgs, "--from-scratch", "--quiet")...)
		cmd.Env = append(os.Environ(), "CTLIMITS_AS_MAIN=1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(took * time.Duration(i) / 6) // a child process: no clock to inject
		if cmd.Process.Signal(syscall.SIGKILL) == nil {
			killedSomewhere++
		}
		cmd.Wait()
		code, _, stderr := run(t, "", replayArgs...)
		if code != exitOK {
			t.Fatalf("kill %d: the next replay failed: exit %d: %s", i, code, stderr)
		}
		if n := differing(t, data, ref); n != 0 {
			t.Fatalf("kill %d: %d rows differ from a clean replay", i, n)
		}
		var left []string
		filepath.Walk(data, func(p string, info os.FileInfo, err error) error {
			if err == nil && strings.HasPrefix(info.Name(), ".") && p != data {
				left = append(left, p)
			}
			return nil
		})
		if len(left) > 0 {
			t.Fatalf("kill %d: temporary files left after the next replay: %v", i, left)
		}
	}
	if killedSomewhere == 0 {
		t.Fatal("every child finished before its kill: the test proves nothing")
	}
}
