package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctlimits/ctlimits/report/golden"
)

const sample = "../../testdata/orders/sample.jsonl"

func TestReplaySampleTable(t *testing.T) {
	code, stdout, stderr := run(t, "", "replay", "--orders", sample)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden.Check(t, "testdata/replay_sample.table", []byte(stdout))
	if !strings.Contains(stdout, "72 orders: 57 new, 5 renewal, 10 limited") {
		t.Fatalf("summary missing:\n%s", stdout)
	}
}

func TestReplayFromStdinAsJSONL(t *testing.T) {
	in := `{"issued_at":"2026-03-01T00:00:00Z","names":["a.example"]}` + "\n"
	code, stdout, stderr := run(t, in, "replay", "--orders", "-", "--format", "jsonl", "--quiet")
	if code != exitOK || !strings.HasPrefix(stdout, `{"order":0,"issued_at":"2026-03-01T00:00:00Z","decision":"new"`) || stderr != "" {
		t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
	}
}

func TestReplayOutIsAtomic(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "decisions.parquet")
	code, _, stderr := run(t, "", "replay", "--orders", sample, "--format", "parquet", "--out", out)
	if code != exitOK || !strings.Contains(stderr, "72 orders") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	good, _ := os.ReadFile(out)

	// A bad input later in the file: the old output stays as it was and no
	// temporary file is left behind.
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"issued_at":"2026-03-01T00:00:00Z","names":["a.example"]}`+"\n"+`{"issued_at":"2026-03-01T00:00:00Z","names":["bad name"]}`+"\n"), 0o644)
	code, _, stderr = run(t, "", "replay", "--orders", bad, "--format", "parquet", "--out", out)
	if code != exitError || !strings.Contains(stderr, "bad.jsonl:line 2: malformed name") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	after, _ := os.ReadFile(out)
	if string(after) != string(good) {
		t.Fatal("a failed run changed the existing output")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestReplayUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"replay"}, "--orders FILE or --data DIR is required"},
		{[]string{"replay", "--orders", sample, "--format", "xml"}, `unknown --format "xml"`},
		{[]string{"replay", "--orders", sample, "--policy", "zerossl"}, `unknown policy "zerossl"`},
		{[]string{"replay", "--orders", sample, "--bogus"}, "unknown flag: --bogus"},
	} {
		code, _, stderr := run(t, "", c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}

func TestReplayWithCustomLimitsAndOverrides(t *testing.T) {
	dir := t.TempDir()
	overrides := filepath.Join(dir, "overrides.yml")
	os.WriteFile(overrides, []byte("- CertificatesPerDomain:\n    burst: 300\n    count: 300\n    period: 168h\n    ids:\n      - id: customers.example\n"), 0o644)
	code, stdout, stderr := run(t, "", "replay", "--orders", sample, "--overrides", overrides)
	if code != exitOK || !strings.Contains(stdout, "72 orders: 65 new, 5 renewal, 2 limited") {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	code, _, stderr = run(t, "", "replay", "--orders", sample, "--limits", "../../replay/testdata/busted_burst.yml")
	if code != exitError || !strings.Contains(stderr, "busted_burst.yml:1: limit CertificatesPerDomain: line 2: invalid burst 0") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}
