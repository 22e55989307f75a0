package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/report/golden"
)

// TestReportOnTheSampleLog runs the pipeline on the bundled sample log
// (ingest, replay its certificates as if from Let's Encrypt, report) and
// checks every format and the bad inputs that need a real DATA directory.
func TestReportOnTheSampleLog(t *testing.T) {
	data := ingestSample(t)
	code, _, stderr := run(t, "", "report", "--data", data)
	if code != exitError || !strings.Contains(stderr, "no decisions in "+data+" yet: run 'ctlimits replay --data "+data+"' first") {
		t.Fatalf("before replay: exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "other"); code != exitOK {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}

	t.Run("text", func(t *testing.T) {
		code, out, stderr := run(t, "", "report", "--data", data, "--top", "5", "--limited", "5")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		golden.Check(t, "testdata/report_sample.txt", []byte(out))
	})
	t.Run("json", func(t *testing.T) {
		code, out, stderr := run(t, "", "report", "--data", data, "--format", "json")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil || m["schema_version"] != 1.0 {
			t.Fatalf("json: %v, schema_version %v", err, m["schema_version"])
		}
	})
	t.Run("csv into a directory and with a prefix", func(t *testing.T) {
		dir := t.TempDir()
		if code, _, stderr := run(t, "", "report", "--data", data, "--format", "csv", "--out", dir+"/"); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "summary.csv")); err != nil || !strings.HasPrefix(string(b), "key,value\nschema_version,1\n") {
			t.Fatalf("summary.csv: %v %q", err, b)
		}
		prefix := filepath.Join(dir, "nightly")
		if code, _, stderr := run(t, "", "report", "--data", data, "--format", "csv", "--out", prefix); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if _, err := os.Stat(prefix + ".domains.csv"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("html to a file", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "r.html")
		if code, _, stderr := run(t, "", "report", "--data", data, "--format", "html", "--out", out); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if b, _ := os.ReadFile(out); !strings.Contains(string(b), "<svg") {
			t.Fatal("no chart in the HTML")
		}
	})
	t.Run("an unknown domain", func(t *testing.T) {
		code, _, stderr := run(t, "", "report", "--data", data, "--domain", "nowhere.example")
		if code != exitError || !strings.Contains(stderr, `--domain domain "nowhere.example": no replayed orders`) {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
	t.Run("another policy than the decisions'", func(t *testing.T) {
		code, _, stderr := run(t, "", "report", "--data", data, "--policy", "letsencrypt-2019")
		if code != exitError || !strings.Contains(stderr, "run 'ctlimits replay --data "+data+" --policy letsencrypt-2019' first") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
	t.Run("a corrupt decisions file", func(t *testing.T) {
		files := decisionFiles(t, data)
		if len(files) == 0 {
			t.Fatal("no decisions file")
		}
		if err := os.WriteFile(files[0], []byte("PAR1 not really"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := run(t, "", "report", "--data", data)
		if code != exitError || !strings.Contains(stderr, files[0]) || !strings.Contains(stderr, "move it away") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
}

func TestReportBadDataDirectories(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a missing directory", []string{"--data", missing}, exitError, "run 'ctlimits ingest --data " + missing + "' first"},
		{"an empty directory", []string{"--data", empty}, exitError, "no CT entries in " + empty + ": run 'ctlimits ingest --data " + empty + "' first"},
		{"csv without --out", []string{"--data", empty, "--format", "csv"}, exitUsage, "one file per table"},
		{"an unknown format", []string{"--data", empty, "--format", "pdf"}, exitUsage, `unknown --format "pdf"`},
		{"a bad --at", []string{"--data", empty, "--at", "yesterday"}, exitUsage, "--at"},
		{"an unknown policy", []string{"--data", empty, "--policy", "nope"}, exitUsage, `unknown policy "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, "", append([]string{"report"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d (want %d): %s", code, tc.code, stderr)
			}
		})
	}
}

func TestReportCorruptEntries(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "entries", "log=x")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "0-9.parquet")
	if err := os.WriteFile(bad, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "", "report", "--data", data)
	if code != exitError || !strings.Contains(stderr, bad) {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// A report after a fresh ingest says its decisions are older than the
// data, instead of reporting the last replay as if it were current.
func TestReportSaysWhenDecisionsAreOlderThanTheData(t *testing.T) {
	data := t.TempDir()
	args := append([]string{"ingest", "--data", data, "--quiet", "--to", "500"}, sampleArgs(t)...)
	if code, _, stderr := run(t, "", args...); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "other"); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, stdout, stderr := run(t, "", "report", "--data", data); code != exitOK || strings.Contains(stdout+stderr, "older than the data") {
		t.Fatalf("fresh decisions: exit %d: %s", code, stderr)
	}
	// Entries files written after the replay (mtime in the future of it).
	args = append([]string{"ingest", "--data", data, "--quiet"}, sampleArgs(t)...)
	if code, _, stderr := run(t, "", args...); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	files, _ := filepath.Glob(filepath.Join(data, "entries", "*", "*.parquet"))
	later := time.Now().Add(time.Minute)
	for _, f := range files {
		os.Chtimes(f, later, later)
	}
	code, stdout, stderr := run(t, "", "report", "--data", data)
	if code != exitOK || !strings.Contains(stderr, "the decisions are older than the data") || !strings.Contains(stdout, "older than the data") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}
