package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctlimits/ctlimits/ingest/loglist"
	"github.com/ctlimits/ctlimits/sql"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

// ingestDemo ingests the demo's sample log: hosting.example issued 90
// certificates between 2026-02-24 and 2026-02-25 23:28, leaving its
// bucket empty.
func ingestDemo(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	args := append([]string{"ingest", "--data", data, "--quiet"}, logFlags(t, filepath.Join("..", "..", "testdata", "demolog"))...)
	if code, _, stderr := run(t, "", args...); code != exitOK {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	return data
}

func writePlan(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plan.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// planDecisions replays plan (over data when given) into JSON lines and
// returns the planned orders' decisions by their first name.
func planDecisions(t *testing.T, data, plan string) map[string]string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "d.jsonl")
	args := []string{"replay", "--orders", plan, "--out", out, "--quiet"}
	if data != "" {
		args = append(args, "--data", data)
	}
	if code, _, stderr := run(t, "", args...); code != exitOK {
		t.Fatalf("%v: exit %d: %s", args, code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var d struct {
			Decision string   `json:"decision"`
			Names    []string `json:"names"`
			Serial   *string  `json:"serial"`
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatal(err)
		}
		if d.Serial == nil || *d.Serial == "" { // planned: no certificate
			got[d.Names[0]] = d.Decision
		}
	}
	return got
}

// A plan laid over DATA starts from DATA's real buckets and renewal
// history. One new site of hosting.example, right after its 90
// certificates, is limited over DATA and new alone. Fifty new sites and,
// last, a renewal of site82 (issued per DATA on 2026-02-25): alone the
// renewal is the 51st new certificate, limited; over DATA it renews its
// exact set, exempt from the bucket that limits the fifty.
func TestReplayPlanOverData(t *testing.T) {
	data := ingestDemo(t)
	one := writePlan(t, `{"issued_at": "2026-02-26T00:00:00Z", "names": ["new.hosting.example"]}`)
	if got := planDecisions(t, "", one)["new.hosting.example"]; got != "new" {
		t.Errorf("alone: %s, want new", got)
	}
	if got := planDecisions(t, data, one)["new.hosting.example"]; got != "limited" {
		t.Errorf("over DATA: %s, want limited", got)
	}
	var lines []string
	for i := range 50 {
		lines = append(lines, fmt.Sprintf(`{"issued_at": "2026-02-26T00:00:00Z", "names": ["n%02d.hosting.example"]}`, i))
	}
	lines = append(lines, `{"issued_at": "2026-02-26T00:00:00Z", "names": ["site82.hosting.example"]}`)
	plan := writePlan(t, lines...)
	alone, over := planDecisions(t, "", plan), planDecisions(t, data, plan)
	if alone["site82.hosting.example"] != "limited" || alone["n49.hosting.example"] != "new" {
		t.Errorf("alone: site82 %s, n49 %s; want limited, new", alone["site82.hosting.example"], alone["n49.hosting.example"])
	}
	if over["site82.hosting.example"] != "renewal" || over["n00.hosting.example"] != "limited" || len(over) != 51 {
		t.Errorf("over DATA: site82 %s, n00 %s, %d planned; want renewal, limited, 51", over["site82.hosting.example"], over["n00.hosting.example"], len(over))
	}
}

// The plan's decisions never go into DATA: its decisions stay those of
// DATA's own replay, and a report reads the plan's from their file, with
// DATA's logs named by their description.
func TestReplayPlanOverDataLeavesDataAlone(t *testing.T) {
	data := ingestDemo(t)
	if code, _, stderr := run(t, "", "replay", "--data", data, "--quiet"); code != exitOK {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	dd, err := datadir.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	before, _, err := dd.Decisions()
	if err != nil {
		t.Fatal(err)
	}
	plan := writePlan(t, `{"issued_at": "2026-02-26T00:00:00Z", "names": ["new.hosting.example"]}`)
	out := filepath.Join(t.TempDir(), "plan.parquet")
	code, _, stderr := run(t, "", "replay", "--data", data, "--orders", plan, "--out", out)
	if code != exitOK || !strings.Contains(stderr, "plan "+plan+": 1 orders: 0 new, 0 renewal, 1 limited") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	after, _, _ := dd.Decisions()
	if strings.Join(before, " ") != strings.Join(after, " ") {
		t.Errorf("DATA's decisions changed: %v -> %v", before, after)
	}
	db, err := sql.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	var planned int64
	db.DB().QueryRow(`SELECT count(*) FROM decisions WHERE issuer_group = 'plan'`).Scan(&planned)
	db.Close()
	if planned != 0 {
		t.Errorf("%d planned decisions in DATA", planned)
	}
	code, stdout, stderr := run(t, "", "report", "--decisions", out, "--data", data, "--format", "json")
	if code != exitOK {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	var r struct {
		Source  string `json:"source"`
		Summary struct {
			Logs []struct{ Log, Name string } `json:"logs"`
		} `json:"summary"`
		Plan struct {
			Orders  int64                   `json:"orders"`
			History int64                   `json:"history_orders"`
			Limited int64                   `json:"limited"`
			Without struct{ Finish string } `json:"without_override"`
			With    struct{ Finish string } `json:"with_override"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	// hosting.example's bucket refills a token every 3h21m36s from its
	// spends: the first token after 2026-02-26 00:00 comes at 02:24 (the
	// retry-after DATA's history gives).
	if r.Source != "plan+ct" || r.Plan.Orders != 1 || r.Plan.Limited != 1 || r.Plan.History != 90 ||
		r.Plan.Without.Finish != "2026-02-26T02:24:00Z" || r.Plan.With.Finish != "2026-02-26T00:00:00Z" {
		t.Errorf("report: %+v", r)
	}
	// Ingested by its URL, the log has no name but its ID.
	if len(r.Summary.Logs) != 1 || r.Summary.Logs[0].Name != "" || r.Summary.Logs[0].Log == "" {
		t.Errorf("logs %+v", r.Summary.Logs)
	}
}

// Reports name logs by their description: the embedded log list's, or
// the one DATA's ingest state recorded (the demo's log is in no list), but
// not a URL standing for one.
func TestLogNames(t *testing.T) {
	data := t.TempDir()
	os.MkdirAll(filepath.Join(data, "state"), 0o755)
	os.WriteFile(filepath.Join(data, "state", "a.json"), []byte(`{"log_id": "AAAA+/8=", "description": "ctlimits demo log (demo.ctlimits.example/2026)", "url": "http://127.0.0.1:1/"}`), 0o644)
	os.WriteFile(filepath.Join(data, "state", "b.json"), []byte(`{"log_id": "BBBB", "description": "file:///tmp/log", "url": "file:///tmp/log"}`), 0o644)
	names := logNames(data)
	if names["AAAA+/8="] != "ctlimits demo log (demo.ctlimits.example/2026)" || names["AAAA-_8"] != names["AAAA+/8="] {
		t.Errorf("from the state: %q %q", names["AAAA+/8="], names["AAAA-_8"])
	}
	if _, ok := names["BBBB"]; ok {
		t.Errorf("a URL was taken for a description")
	}
	ll, err := loglist.Load("")
	if err != nil || len(ll.Logs) == 0 {
		t.Fatal(err)
	}
	if l := &ll.Logs[0]; names[l.ID()] != l.Description || l.Description == "" {
		t.Errorf("the log list's %s is named %q, want %q", l.ID(), names[l.ID()], l.Description)
	}
}

// A plan replayed alone, then reported in every format.
func TestReportOnAPlan(t *testing.T) {
	out := filepath.Join(t.TempDir(), "plan.parquet")
	if code, _, stderr := run(t, "", "replay", "--orders", "../../testdata/orders/sample.jsonl", "--out", out); code != exitOK {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	for _, format := range []string{"text", "markdown", "json", "html"} {
		code, stdout, stderr := run(t, "", "report", "--decisions", out, "--format", format)
		if code != exitOK || !strings.Contains(stdout, "2026-03-06") {
			t.Errorf("%s: exit %d (%s); no finish date in:\n%s", format, code, stderr, stdout)
		}
	}
	csvDir := t.TempDir() + "/"
	if code, _, stderr := run(t, "", "report", "--decisions", out, "--format", "csv", "--out", csvDir); code != exitOK {
		t.Fatalf("csv: exit %d: %s", code, stderr)
	}
	b, _ := os.ReadFile(filepath.Join(csvDir, "plan.csv"))
	if !strings.Contains(string(b), "without_override,,72,0,") {
		t.Errorf("plan.csv:\n%s", b)
	}
	// Replayed with an override already granted, the plan is retried with
	// it too when the report is given the same file: only the exact-set
	// limit delays orders then.
	ov := filepath.Join(t.TempDir(), "overrides.yml")
	os.WriteFile(ov, []byte("- CertificatesPerDomain:\n    burst: 300\n    count: 300\n    period: 168h\n    ids:\n      - id: customers.example\n"), 0o644)
	withOv := filepath.Join(t.TempDir(), "plan.parquet")
	if code, _, stderr := run(t, "", "replay", "--orders", "../../testdata/orders/sample.jsonl", "--overrides", ov, "--out", withOv); code != exitOK {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := run(t, "", "report", "--decisions", withOv, "--overrides", ov)
	if code != exitOK || !strings.Contains(stdout, "No override needed") || !strings.Contains(stdout, "(2 orders delayed") {
		t.Errorf("with --overrides: exit %d (%s):\n%s", code, stderr, stdout)
	}
	// A damaged one too (its pages overwritten, the footer whole).
	b, _ = os.ReadFile(out)
	for i := 200; i < len(b)/2; i++ {
		b[i] = 0x5a
	}
	damaged := filepath.Join(t.TempDir(), "damaged.parquet")
	os.WriteFile(damaged, b, 0o644)
	if code, _, stderr := run(t, "", "report", "--decisions", damaged); code != exitError || !strings.Contains(stderr, "a damaged decisions file: write it again with 'ctlimits replay --orders PLAN --out "+damaged+"'") {
		t.Errorf("damaged decisions: exit %d: %s", code, stderr)
	}
	// A decisions file that is not a plan's Parquet says what to do.
	jl := filepath.Join(t.TempDir(), "plan.jsonl")
	run(t, "", "replay", "--orders", "../../testdata/orders/sample.jsonl", "--out", jl)
	if code, _, stderr := run(t, "", "report", "--decisions", jl); code != exitError || !strings.Contains(stderr, "--out FILE.parquet") {
		t.Errorf("jsonl decisions: exit %d: %s", code, stderr)
	}
}
