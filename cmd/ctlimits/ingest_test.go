package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleArgs points ingest at testdata/ctlog, the generated sample log.
func sampleArgs(t *testing.T) []string {
	t.Helper()
	return logFlags(t, filepath.Join("..", "..", "testdata", "ctlog"))
}

// logFlags are the ingest flags for a sample log directory: its file://
// URL, its key and its origin (from its log.json).
func logFlags(t *testing.T, dir string) []string {
	t.Helper()
	dir, _ = filepath.Abs(dir)
	b, err := os.ReadFile(filepath.Join(dir, "log.json"))
	if err != nil {
		t.Fatal(err)
	}
	var kf struct {
		Origin    string `json:"origin"`
		PublicKey []byte `json:"public_key"`
	}
	if err := json.Unmarshal(b, &kf); err != nil {
		t.Fatal(err)
	}
	return []string{"--log", "file://" + dir, "--key", base64.StdEncoding.EncodeToString(kf.PublicKey), "--origin", kf.Origin}
}

func TestIngestThenSQL(t *testing.T) {
	data := t.TempDir()
	args := append([]string{"ingest", "--data", data}, sampleArgs(t)...)
	code, out, errOut := run(t, "", args...)
	if code != exitOK {
		t.Fatalf("ingest exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "1000 entries [0, 1000) verified against tree size 1000; 1000 rows") {
		t.Errorf("summary: %s", out)
	}
	if !strings.Contains(errOut, "1000/1000 entries") {
		t.Errorf("plain progress lines on a non-terminal: %q", errOut)
	}
	code, out, _ = run(t, "", append(args, "--quiet")...)
	if code != exitOK || !strings.Contains(out, "0 entries [1000, 1000)") {
		t.Errorf("second run: exit %d, %s", code, out)
	}
	code, out, errOut = run(t, "", "sql", "--data", data, "--format", "csv", "SELECT entry_type, count(*) AS n FROM entries GROUP BY ALL ORDER BY 1")
	if code != exitOK || out != "entry_type,n\nprecert,500\nx509,500\n" {
		t.Errorf("sql: exit %d, out %q, err %s", code, out, errOut)
	}
}

var usageTests = []struct {
	name string
	args []string
	want string
}{
	{"ingest without --log", []string{"ingest"}, "--log is required"},
	{"an ambiguous log name", []string{"ingest", "--log", "sycamore"}, "more than one log matches"},
	{"a URL without a key", []string{"ingest", "--log", "https://ct.example.com/log/", "--protocol", "rfc6962"}, "give its public key with --key"},
	{"a bad issuer regex", []string{"ingest", "--log", "nimbus2026", "--issuer", "("}, "--issuer"},
	{"sql without a query", []string{"sql"}, "one query argument"},
	{"sql with a bad format", []string{"sql", "--format", "xml", "SELECT 1"}, "unknown format"},
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, tt := range usageTests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := run(t, "", tt.args...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 mentioning %q", code, errOut, tt.want)
			}
		})
	}
}

func TestLogsListsTheSnapshot(t *testing.T) {
	code, out, errOut := run(t, "", "logs")
	if code != exitOK {
		t.Fatal(errOut)
	}
	for _, want := range []string{"Let's Encrypt 'Sycamore2026h2'", "static", "https://mon.sycamore.ct.letsencrypt.org/2026h2/", "Google 'Argon2026h2' log", "rfc6962", "Cloudflare", "DigiCert", "Sectigo"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs output lacks %q", want)
		}
	}
	if !strings.Contains(errOut, "snapshot") {
		t.Errorf("stderr does not say the list is a snapshot: %q", errOut)
	}
	code, out, _ = run(t, "", "logs", "--format", "json")
	var rows []map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &rows) != nil || len(rows) < 10 {
		t.Errorf("logs --format json: exit %d, %d rows", code, len(rows))
	}
}
