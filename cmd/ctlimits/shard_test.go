//go:build cgo

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ctlimits/ctlimits/replay/shard"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

// buildTool builds a command of this repository into a temporary
// directory (with env added to the build's environment).
func buildTool(t *testing.T, pkg string, env ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tool")
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s %v: %v\n%s", pkg, env, err, out)
	}
	return bin
}

// generatedData writes a Let's Encrypt-shaped history (cmd/ctgen) into a
// fresh DATA directory: thousands of certificates in thousands of
// connected components, the hosting providers' among them much bigger.
func generatedData(t *testing.T) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	ctgen := buildTool(t, "../ctgen")
	if out, err := exec.Command(ctgen, "-entries", data, "-certs", "2000", "-days", "10").CombinedOutput(); err != nil {
		t.Fatalf("ctgen: %v\n%s", err, out)
	}
	return data
}

// demoData ingests the demo log (testdata/demolog: production, staging
// and other CAs, hosting providers over their limits) into DATA.
func demoData(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	args := append([]string{"ingest", "--data", data, "--quiet"}, logFlags(t, filepath.Join("..", "..", "testdata", "demolog"))...)
	if code, _, stderr := run(t, "", args...); code != exitOK {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	return data
}

// copyData copies DATA's entries into a new DATA directory.
func copyData(t *testing.T, data string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(filepath.Join(data, "entries"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(data, p)
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		return datadir.Write(filepath.Join(dst, rel), func(w io.Writer) error { _, err := io.Copy(w, in); return err })
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// saveDecisions writes DATA's decisions to a Parquet file, for differing
// (as copyDecisions does, less the columns the view computes).
func saveDecisions(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ref.parquet")
	copyDecisions(t, data, path)
	return path
}

func readManifest(t *testing.T, data string, n int) *shard.Manifest {
	t.Helper()
	dd, err := datadir.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := shard.ReadManifest(shard.Dir(dd, n), n)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestShardedReplayEqualsOneReplay: sharding DATA, replaying every shard
// apart and publishing them gives, order for order (the position column
// included), the decisions of one 'replay --data', on the demo log
// (production, staging, other CAs) and on a generated log whose biggest
// component is a giant that gets a shard of its own; and the reports
// read them.
func TestShardedReplayEqualsOneReplay(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   func(*testing.T) string
		shards int
		giant  bool
	}{
		{"demo", demoData, 3, false},
		{"generated", generatedData, 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			one := tc.data(t)
			sharded := copyData(t, one)
			flags := []string{"--issuers", "all", "--assume-ari", "--quiet"}
			if code, _, stderr := run(t, "", append([]string{"replay", "--data", one}, flags...)...); code != exitOK {
				t.Fatalf("replay: exit %d: %s", code, stderr)
			}
			ref := saveDecisions(t, one)
			// A memory limit far below the machine's: DuckDB works within it
			// (spilling to DATA/shards if it must).
			if code, _, stderr := run(t, "", "shard", "--data", sharded, "--shards", strconv.Itoa(tc.shards), "--memory-limit", "100MB"); code != exitOK {
				t.Fatalf("shard: exit %d: %s", code, stderr)
			}
			m := readManifest(t, sharded, tc.shards)
			total := queryInt(t, one, `SELECT count(*) FROM decisions`)
			var sum int64
			for _, o := range m.Orders {
				sum += o
			}
			if sum != m.Certificates || m.Certificates != total || m.Components < int64(tc.shards) {
				t.Fatalf("manifest %+v: want %d certificates in all shards, and more components than shards", m, total)
			}
			if tc.giant && (m.Largest <= total/int64(tc.shards) || len(m.Own) == 0 || m.Orders[m.Own[0]] != m.Largest) {
				t.Fatalf("manifest %+v: the largest component (%d of %d) should have a shard of its own", m, m.Largest, total)
			}
			for i := range tc.shards {
				// Before the last shard, nothing is published.
				if i == tc.shards-1 {
					if n := queryInt(t, sharded, `SELECT count(*) FROM decisions`); n != 0 {
						t.Fatalf("%d decisions published before every shard was done", n)
					}
				}
				code, _, stderr := run(t, "", append([]string{"replay", "--data", sharded, "--shard", fmt.Sprintf("%d/%d", i, tc.shards)}, flags[:len(flags)-1]...)...)
				if code != exitOK {
					t.Fatalf("shard %d: exit %d: %s", i, code, stderr)
				}
				if want := fmt.Sprintf("%d of %d shards done", i+1, tc.shards); i < tc.shards-1 && !strings.Contains(stderr, want) {
					t.Fatalf("shard %d: want %q in:\n%s", i, want, stderr)
				}
				if i == tc.shards-1 && !strings.Contains(stderr, "their decisions are current") {
					t.Fatalf("the last shard did not publish:\n%s", stderr)
				}
			}
			if n := differing(t, sharded, ref); n != 0 {
				t.Fatalf("%d decisions differ from one replay's", n)
			}
			if n := queryInt(t, sharded, `SELECT count(*) FROM decisions`); n != total {
				t.Fatalf("%d decisions, want %d", n, total)
			}
			if n := queryInt(t, sharded, `SELECT count(*) FROM decisions WHERE decision = 'limited'`); n == 0 {
				t.Fatal("nothing limited: the test proves little")
			}
			// A worker run again publishes nothing new.
			code, _, stderr := run(t, "", "replay", "--data", sharded, "--shard", "0/"+strconv.Itoa(tc.shards), "--issuers", "all", "--assume-ari")
			if code != exitOK || strings.Contains(stderr, "current in") {
				t.Fatalf("rerun: exit %d: %s", code, stderr)
			}
			code, out, stderr := run(t, "", "report", "--data", sharded, "--format", "json")
			if code != exitOK {
				t.Fatalf("report: exit %d: %s", code, stderr)
			}
			// The report reads every shard: the same as one replay's.
			_, refOut, _ := run(t, "", "report", "--data", one, "--format", "json")
			if out != refOut {
				t.Fatalf("the report on the shards differs from one replay's:\n%.2000s\n\n%.2000s", out, refOut)
			}
		})
	}
}

// TestShardWorkerRunsWithoutCgo builds ctlimits with CGO_ENABLED=0: the
// shard worker runs and publishes, and the commands that need DuckDB say
// that they need the cgo build.
func TestShardWorkerRunsWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ctlimits without cgo")
	}
	data := demoData(t)
	if code, _, stderr := run(t, "", "shard", "--data", data, "--shards", "2", "--quiet"); code != exitOK {
		t.Fatalf("shard: exit %d: %s", code, stderr)
	}
	bin := buildTool(t, ".", "CGO_ENABLED=0")
	for i := range 2 {
		out, err := exec.Command(bin, "replay", "--data", data, "--shard", fmt.Sprintf("%d/2", i)).CombinedOutput()
		if err != nil {
			t.Fatalf("shard %d without cgo: %v\n%s", i, err, out)
		}
	}
	if n := queryInt(t, data, `SELECT count(*) FROM decisions`); n != queryInt(t, data, `SELECT count(*) FROM certificates WHERE issuer_group = 'letsencrypt'`) {
		t.Fatalf("%d decisions published by the workers built without cgo", n)
	}
	for _, args := range [][]string{
		{"sql", "--data", data, "SELECT 1"},
		{"report", "--data", data},
		{"shard", "--data", data, "--shards", "2"},
		{"replay", "--data", data},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "needs DuckDB") || !strings.Contains(string(out), "CGO_ENABLED") {
			t.Fatalf("%v without cgo: %v\n%s", args, err, out)
		}
	}
}

// TestShardWorkerRefusesWhatItCannotReplay: stale shards (entries
// ingested since), a missing sharding, bad specs, and issuers a shard
// cannot select are errors that say what to do.
func TestShardWorkerRefusesWhatItCannotReplay(t *testing.T) {
	data := demoData(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--shard", "2/2"}, exitUsage, "want I/N"},
		{[]string{"--shard", "x"}, exitUsage, "want I/N"},
		{[]string{"--shard", "0/2", "--since", "2026-01-01"}, exitUsage, "--since does not apply to --shard"},
		{[]string{"--shard", "0/2", "--issuers", "R1."}, exitUsage, "not a regular expression"},
		{[]string{"--shard", "0/2"}, exitError, "run 'ctlimits shard --data DATA --shards 2' first"},
	} {
		code, _, stderr := run(t, "", append([]string{"replay", "--data", data}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d and %q: %s", tc.args, code, tc.code, tc.want, stderr)
		}
	}
	if code, _, stderr := run(t, "", "shard", "--data", data, "--shards", "2", "--quiet"); code != exitOK {
		t.Fatalf("shard: exit %d: %s", code, stderr)
	}
	// New entries: the sharding is stale.
	more := demoData(t)
	src, _ := filepath.Glob(filepath.Join(more, "entries", "*", "*.parquet"))
	b, err := os.ReadFile(src[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := datadir.WriteFile(filepath.Join(data, "entries", "log=other", "0-1.parquet"), b); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "", "replay", "--data", data, "--shard", "0/2")
	if code != exitError || !strings.Contains(stderr, "stale") || !strings.Contains(stderr, "ctlimits shard --data") {
		t.Fatalf("stale shards: exit %d: %s", code, stderr)
	}
	var m shard.Manifest
	b, _ = os.ReadFile(filepath.Join(data, "shards", "2", "manifest.json"))
	if err := json.Unmarshal(b, &m); err != nil || m.Shards != 2 {
		t.Fatalf("manifest: %v %+v", err, m)
	}
}

// TestShardUnderATinyMemoryLimitFailsCleanly: a memory limit DuckDB
// cannot work within is an error that names the flag, not a crash, and
// leaves nothing behind. (DuckDB's spill directory used to be removed
// before DuckDB closed, and DuckDB then aborted the process: on success
// whenever it had spilled, as sharding 3M certificates under 1GB did, and
// on every error. It runs as a subprocess so that a crash fails this test
// and not the whole binary.)
func TestShardUnderATinyMemoryLimitFailsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	data := generatedData(t)
	cmd := exec.Command(os.Args[0], "shard", "--data", data, "--shards", "4", "--memory-limit", "15MB", "--threads", "1", "--quiet")
	cmd.Env = append(os.Environ(), "CTLIMITS_AS_MAIN=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitError || !strings.Contains(string(out), "--memory-limit") || strings.Contains(string(out), "terminate called") {
		t.Fatalf("shard under 15MB: %v\n%s", err, out)
	}
	if left, _ := filepath.Glob(filepath.Join(data, "shards", "*")); len(left) > 0 {
		t.Fatalf("a failed sharding left %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(data, "shards", ".*")); len(left) > 0 {
		t.Fatalf("a failed sharding left %v", left)
	}
	if code, _, stderr := run(t, "", "shard", "--data", data, "--shards", "4", "--memory-limit", "200MB", "--quiet"); code != exitOK {
		t.Fatalf("shard under 200MB: exit %d: %s", code, stderr)
	}
}
