package main

import (
	"net/http"
	"net/http/httptest"
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
