package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ctlimits/ctlimits/ingest"
	"github.com/ctlimits/ctlimits/report/nightly"
)

// runConfigFile writes a run configuration following the sample log.
func runConfigFile(t *testing.T, data string, extra string) string {
	t.Helper()
	dir, err := filepath.Abs("../../testdata/ctlog")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "log.json"))
	var kf struct {
		PublicKey []byte `json:"public_key"`
		Origin    string `json:"origin"`
	}
	if err := json.Unmarshal(b, &kf); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("data: %s\nlogs:\n  - log: file://%s\n    key: %s\n    origin: %s\nissuers: all\n%s",
		data, dir, base64.StdEncoding.EncodeToString(kf.PublicKey), kf.Origin, extra)
	path := filepath.Join(t.TempDir(), "run.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunExitStatusesAndDiff(t *testing.T) {
	data := t.TempDir()
	metrics := filepath.Join(t.TempDir(), "ctlimits.prom")
	// The sample log is from March 2026: with a short staleness bound the
	// data is stale (UNKNOWN), unless a watched domain is limited (CRIT).
	crit := runConfigFile(t, data, "stale_after: 1h\nwatch:\n  - domain: example.org\n")
	code, stdout, _ := run(t, "", "run", "--config", crit, "--metrics", metrics, "--quiet")
	if code != nightly.Crit || !strings.HasPrefix(stdout, "CTLIMITS CRIT: example.org had 216 orders limited since the last run") {
		t.Fatalf("first run: exit %d\n%s", code, stdout)
	}
	for _, f := range []string{"report.json", "report.md", "report.html", "run.json", "diff.md"} {
		if m, _ := filepath.Glob(filepath.Join(data, "reports", "*", f)); len(m) != 1 {
			t.Errorf("want one DATA/reports/<time>/%s, have %v", f, m)
		}
	}
	prom, _ := os.ReadFile(metrics)
	for _, want := range []string{"ctlimits_run_status 2\n", `ctlimits_domain_tokens{domain="example.org"} 0`, `ctlimits_orders{decision="over_model",issuers="Let's Encrypt production and other CAs",policy="letsencrypt"} 216`} {
		if !strings.Contains(string(prom), want) {
			t.Fatalf("metrics lack %q:\n%s", want, prom)
		}
	}
	// Second run: nothing new was limited; example.org's bucket is empty,
	// so WARN, but the data is stale: UNKNOWN wins over WARN.
	code, stdout, _ = run(t, "", "run", "--config", crit, "--quiet")
	if code != nightly.Unknown || !strings.Contains(stdout, "example.org has 0 of 50 tokens left") || !strings.Contains(stdout, "stale after 1h0m0s") {
		t.Fatalf("second run: exit %d\n%s", code, stdout)
	}
	diff, err := os.ReadFile(newestReport(t, data, "diff.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(diff), "Compared with the run of") || !strings.Contains(string(diff), "| example.org | WARN (changed) | CRIT |") {
		t.Fatalf("diff:\n%s", diff)
	}
	// Fresh enough data and a domain with headroom: OK.
	ok := runConfigFile(t, data, "stale_after: 1000000h\nwatch:\n  - domain: site28.example\n")
	code, stdout, _ = run(t, "", "run", "--config", ok, "--quiet")
	if code != nightly.OK || !strings.HasPrefix(stdout, "CTLIMITS OK") {
		t.Fatalf("third run: exit %d\n%s", code, stdout)
	}
	// A watched domain under its threshold: WARN.
	warn := runConfigFile(t, data, "stale_after: 1000000h\nwatch:\n  - domain: site28.example\n    warn_tokens: 60\n")
	if code, stdout, _ = run(t, "", "run", "--config", warn, "--quiet"); code != nightly.Warn {
		t.Fatalf("fourth run: exit %d\n%s", code, stdout)
	}
}

// newestReport is file in the newest run's reports directory.
func newestReport(t *testing.T, data, file string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(data, "reports", "*", file))
	if len(m) == 0 {
		t.Fatalf("no DATA/reports/<time>/%s", file)
	}
	sort.Strings(m)
	return m[len(m)-1]
}

func TestRunRefusesToOverlap(t *testing.T) {
	data := t.TempDir()
	os.MkdirAll(filepath.Join(data, "reports"), 0o755)
	unlock, err := ingest.Lock(filepath.Join(data, "run.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	code, stdout, _ := run(t, "", "run", "--config", runConfigFile(t, data, ""), "--quiet")
	if code != nightly.Unknown || !strings.Contains(stdout, "another ctlimits run is working on") {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
}

func TestRunBadConfigIsUnknown(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ yaml, want string }{
		{"logs: [x]\n", "no data directory"},
		{"data: /tmp/x\n", "no logs to follow"},
		{"data: /tmp/x\nlogs: [x]\nwatch:\n  - domain: www.example.com\n", "www.example.com is not a registered domain"},
		{"data: /tmp/x\nlogs: [x]\nstale_after: soon\n", `line 3: "soon" is not a positive duration`},
		{"data: /tmp/x\nlogs: [x]\nwatchers: []\n", "field watchers not found"},
	} {
		path := filepath.Join(dir, "bad.yml")
		os.WriteFile(path, []byte(c.yaml), 0o644)
		code, stdout, _ := run(t, "", "run", "--config", path)
		if code != nightly.Unknown || !strings.Contains(stdout, c.want) {
			t.Errorf("%q: exit %d %q, want %q", c.yaml, code, stdout, c.want)
		}
	}
	if code, _, _ := run(t, "", "run", "--config", filepath.Join(dir, "missing.yml")); code != nightly.Unknown {
		t.Fatalf("missing config: exit %d", code)
	}
}

// A watched domain without certificates must not hide the others: the run
// is judged as usual (here OK), says so in a note, writes every report,
// and the metrics keep every per-domain and per-log series. The record,
// the status line and the exit code say the same status.
func TestRunWatchedDomainWithoutCertificates(t *testing.T) {
	data := t.TempDir()
	metrics := filepath.Join(t.TempDir(), "ctlimits.prom")
	cfg := runConfigFile(t, data, "stale_after: 1000000h\nwatch:\n  - domain: site28.example\n  - domain: nothing-issued.example\n")
	code, stdout, _ := run(t, "", "run", "--config", cfg, "--metrics", metrics, "--quiet")
	if code != nightly.OK || !strings.HasPrefix(stdout, "CTLIMITS OK") {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	var rec nightly.Record
	b, err := os.ReadFile(newestReport(t, data, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Status != "OK" || rec.ExitCode != code || len(rec.Notes) != 1 || !strings.Contains(rec.Notes[0], "nothing-issued.example has no certificates") {
		t.Fatalf("record: status %s exit %d notes %q", rec.Status, rec.ExitCode, rec.Notes)
	}
	for _, f := range []string{"report.json", "report.md", "report.html", "diff.md"} {
		newestReport(t, data, f)
	}
	prom, _ := os.ReadFile(metrics)
	for _, want := range []string{"ctlimits_run_status 0\n", `ctlimits_domain_tokens{domain="nothing-issued.example"} 50`,
		`ctlimits_domain_tokens{domain="site28.example"}`, `ctlimits_log_ok{log="file://`, `ctlimits_orders{decision="new"`} {
		if !strings.Contains(string(prom), want) {
			t.Errorf("metrics lack %q:\n%s", want, prom)
		}
	}
	if st, _ := os.Stat(metrics); st.Mode().Perm()&0o044 == 0 {
		t.Errorf("metrics file mode %v: node_exporter (another user) cannot read it", st.Mode().Perm())
	}
}

// A log that fails (here: the wrong key, so its checkpoint does not
// verify) shows its reason in the status line and the record, and as
// ctlimits_log_ok 0.
func TestRunFailingLogIsReportedEverywhere(t *testing.T) {
	data := t.TempDir()
	metrics := filepath.Join(t.TempDir(), "ctlimits.prom")
	cfg := runConfigFile(t, data, "stale_after: 1000000h\n")
	b, _ := os.ReadFile(cfg)
	// Another valid key: the demo log's.
	demo, _ := os.ReadFile("../../testdata/demolog/log.json")
	var kf struct {
		PublicKey []byte `json:"public_key"`
	}
	json.Unmarshal(demo, &kf)
	bad := regexpKey.ReplaceAllString(string(b), "key: "+base64.StdEncoding.EncodeToString(kf.PublicKey))
	os.WriteFile(cfg, []byte(bad), 0o644)
	code, stdout, _ := run(t, "", "run", "--config", cfg, "--metrics", metrics, "--quiet")
	if code != nightly.Unknown || !strings.Contains(stdout, "CTLIMITS UNKNOWN: log file://") {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	rb, _ := os.ReadFile(newestReport(t, data, "run.json"))
	var rec nightly.Record
	json.Unmarshal(rb, &rec)
	if len(rec.Logs) != 1 || rec.Logs[0].Error == "" || rec.Status != "UNKNOWN" || !strings.Contains(strings.Join(rec.Reasons, ";"), rec.Logs[0].Error) {
		t.Fatalf("record: %+v", rec)
	}
	prom, _ := os.ReadFile(metrics)
	if !regexp.MustCompile(`ctlimits_log_ok\{log="file://[^"]*"\} 0\n`).Match(prom) {
		t.Fatalf("metrics lack ctlimits_log_ok 0:\n%s", prom)
	}
}

var regexpKey = regexp.MustCompile(`key: \S+`)

// Two runs a second apart (or less) keep two records: each run's files are
// in a directory named by its time to the nanosecond.
func TestRunRecordsAreNamedByTime(t *testing.T) {
	data := t.TempDir()
	cfg := runConfigFile(t, data, "stale_after: 1000000h\n")
	for range 2 {
		run(t, "", "run", "--config", cfg, "--quiet")
	}
	m, _ := filepath.Glob(filepath.Join(data, "reports", "*", "run.json"))
	if len(m) != 2 {
		t.Fatalf("%d run records, want 2: %v", len(m), m)
	}
	if left, _ := filepath.Glob(filepath.Join(data, "reports", ".*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
