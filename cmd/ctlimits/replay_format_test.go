package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `replay --out x.parquet` used to write a text table into x.parquet:
// without --format, the extension of --out chooses the format.
func TestReplayOutExtensionChoosesTheFormat(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		file, starts string
	}{
		{"d.parquet", "PAR1"},
		{"d.jsonl", `{"order":0,`},
		{"d.csv", "order,issued_at,decision,"},
		{"d.txt", "  ORDER  ISSUED_AT"},
	} {
		out := filepath.Join(dir, c.file)
		if code, _, stderr := run(t, "", "replay", "--orders", sample, "--out", out, "--quiet"); code != exitOK {
			t.Fatalf("%s: exit %d: %s", c.file, code, stderr)
		}
		got, _ := os.ReadFile(out)
		if !strings.HasPrefix(string(got), c.starts) {
			t.Errorf("%s starts %q, want %q", c.file, got[:min(len(got), 30)], c.starts)
		}
	}
	// An explicit --format that agrees, or an extension that says nothing.
	for _, args := range [][]string{{"--out", filepath.Join(dir, "a.parquet"), "--format", "parquet"}, {"--out", filepath.Join(dir, "a.out"), "--format", "csv"}} {
		if code, _, stderr := run(t, "", append([]string{"replay", "--orders", sample, "--quiet"}, args...)...); code != exitOK {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
	code, _, stderr := run(t, "", "replay", "--orders", sample, "--out", filepath.Join(dir, "x.parquet"), "--format", "csv")
	if code != exitUsage || !strings.Contains(stderr, "--format csv conflicts with --out") {
		t.Fatalf("conflict: exit %d: %s", code, stderr)
	}
}
