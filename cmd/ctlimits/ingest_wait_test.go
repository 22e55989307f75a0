package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
)

// A log asking to be left alone for longer than --max-wait stops the
// ingest with a message that says so, even with --quiet.
func TestIngestMaxWait(t *testing.T) {
	l, err := ctlogtest.Load(filepath.Join("..", "..", "testdata", "ctlog"))
	if err != nil {
		t.Fatal(err)
	}
	s := ctlogtest.NewServer(l, 1000)
	s.Before = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "tile/data/001") {
			w.Header().Set("Retry-After", "10800")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		}
		return false
	}
	srv := httptest.NewServer(s.Static())
	defer srv.Close()
	args := sampleArgs(t)
	args[1] = srv.URL + "/" // --log: the served copy of the sample log
	args = append([]string{"ingest", "--data", t.TempDir(), "--protocol", "static", "--quiet", "--max-wait", "1m"}, args...)
	code, _, errOut := run(t, "", args...)
	if code == exitOK || !strings.Contains(errOut, "tile/data/001") || !strings.Contains(errOut, "asked to retry after 3h0m0s; more than --max-wait 1m0s") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = run(t, "", "ingest", "--log", "nimbus2026", "--max-wait", "0s")
	if code != exitUsage || !strings.Contains(errOut, "--max-wait") {
		t.Errorf("--max-wait 0s: exit %d, stderr %q", code, errOut)
	}
}

// A killed ingest leaves temporary files (an entries file being written,
// a state file being replaced); the next ingest of the log removes them,
// and only its own: another log's are left to that log's ingest.
func TestIngestSweepsWhatAKilledIngestLeft(t *testing.T) {
	data := ingestSample(t)
	logs, _ := filepath.Glob(filepath.Join(data, "entries", "log=*"))
	states, _ := filepath.Glob(filepath.Join(data, "state", "*.json"))
	if len(logs) != 1 || len(states) != 1 {
		t.Fatalf("entries %v, states %v", logs, states)
	}
	mine := []string{
		filepath.Join(logs[0], ".entries-1x2y3z.parquet.tmp"),
		filepath.Join(data, "state", "."+filepath.Base(states[0])+"1234567"),
	}
	other := filepath.Join(data, "state", ".another-log.json1234567")
	for _, f := range append(mine, other) {
		if err := os.WriteFile(f, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, stderr := run(t, "", append([]string{"ingest", "--data", data, "--quiet"}, sampleArgs(t)...)...); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, f := range mine {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s is still there", f)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another log's temporary file was removed: %v", err)
	}
}

// A first ingest of a live log can start near its end: --from end-N
// starts N entries before the end of its signed tree, and later runs
// continue where DATA ends.
func TestIngestFromEnd(t *testing.T) {
	data := t.TempDir()
	code, _, stderr := run(t, "", append([]string{"ingest", "--data", data, "--quiet", "--from", "end-100"}, sampleArgs(t)...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := queryInt(t, data, `SELECT count(*) FROM entries`); n != 100 {
		t.Fatalf("%d entries, want the last 100", n)
	}
	if n := queryInt(t, data, `SELECT min(idx) FROM entries`); n != 900 {
		t.Fatalf("first index %d, want 900", n)
	}
	for _, bad := range []string{"end", "end-0", "end+5", "later", "-3"} {
		code, _, stderr := run(t, "", append([]string{"ingest", "--data", t.TempDir(), "--from", bad}, sampleArgs(t)...)...)
		if code != exitUsage || !strings.Contains(stderr, "end-N") {
			t.Errorf("--from %s: exit %d: %s", bad, code, stderr)
		}
	}
}
