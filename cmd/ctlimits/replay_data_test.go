package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/sql"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

// ingestSample ingests the bundled sample log into a fresh DATA directory.
func ingestSample(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	args := append([]string{"ingest", "--data", data, "--quiet"}, sampleArgs(t)...)
	if code, _, stderr := run(t, "", args...); code != exitOK {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	return data
}

func queryInt(t *testing.T, data, q string) int64 {
	t.Helper()
	db, err := sql.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.DB().QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestReplayDataWritesOneDecisionPerCertificate(t *testing.T) {
	data := ingestSample(t)
	code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "other")
	if code != exitOK || !strings.Contains(stderr, "other CAs under letsencrypt: 1000 orders") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := queryInt(t, data, `SELECT count(*) FROM decisions d JOIN certificates c USING (issuer, serial)`); n != 1000 {
		t.Fatalf("%d decisions joined to certificates, want 1000", n)
	}
	// The decisions agree with a replay of the orders view's names: the
	// SQL functions and the replay normalize alike.
	if n := queryInt(t, data, `SELECT count(*) FROM decisions d JOIN orders o USING (issuer, serial)
		WHERE d.names <> o.names OR d.fqdn_set_hash <> o.fqdn_set_hash OR d.registered_domains <> o.registered_domains`); n != 0 {
		t.Fatalf("%d decisions disagree with the orders view", n)
	}
	if n := queryInt(t, data, `SELECT count(*) FROM decisions WHERE over_model <> (decision = 'limited') OR policy <> 'letsencrypt'`); n != 0 {
		t.Fatalf("%d rows with a wrong over_model or policy", n)
	}
	// Nothing matches production here: the earlier decisions stay.
	code, _, stderr = run(t, "", "replay", "--data", data)
	if code != exitOK || !strings.Contains(stderr, "no certificates in") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := queryInt(t, data, `SELECT count(*) FROM decisions`); n != 1000 {
		t.Fatalf("an empty replay replaced the decisions: %d rows", n)
	}
}

func TestReplayDataDomainKeepsItsWholeComponent(t *testing.T) {
	data := ingestSample(t)
	out := filepath.Join(t.TempDir(), "d.jsonl")
	code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "all", "--domain", "www.site28.example", "--format", "jsonl", "--out", out)
	if code != exitUsage || !strings.Contains(stderr, "--out holds one replay") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, _, stderr = run(t, "", "replay", "--data", data, "--issuers", "other", "--domain", "www.site28.example", "--format", "jsonl", "--out", out)
	if code != exitOK || !strings.Contains(stderr, "4 orders") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// example.org joins many sites into one component: asking for it
	// replays all of them.
	code, _, stderr = run(t, "", "replay", "--data", data, "--issuers", "other", "--domain", "example.org", "--format", "jsonl", "--out", out)
	if code != exitOK || strings.Contains(stderr, " 4 orders") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// Into DATA, connected components are replayed on --workers goroutines,
// each writing a part file; the decisions are those of one serial replay,
// with --out (a single stream, one Replayer) as the reference.
func TestReplayDataWorkersDecideAsOneReplay(t *testing.T) {
	data := ingestSample(t)
	ref := filepath.Join(t.TempDir(), "serial.parquet")
	if code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "other", "--out", ref, "--format", "parquet"); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, workers := range []string{"1", "3"} {
		if code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "other", "--in-memory", "--workers", workers); code != exitOK {
			t.Fatalf("--workers %s: exit %d: %s", workers, code, stderr)
		}
		parts := decisionFiles(t, data)
		if want, _ := strconv.Atoi(workers); len(parts) != want {
			t.Fatalf("--workers %s: %d part files: %v", workers, len(parts), parts)
		}
		// Every column agrees, row for row (over_model is the view's).
		q := `SELECT count(*) FROM (
			SELECT * EXCLUDE (over_model, profile) FROM decisions
			EXCEPT ALL SELECT * FROM read_parquet('` + ref + `'))`
		if n := queryInt(t, data, q); n != 0 {
			t.Fatalf("--workers %s: %d rows differ from the serial replay", workers, n)
		}
		if n := queryInt(t, data, `SELECT count(*) FROM decisions`); n != 1000 {
			t.Fatalf("--workers %s: %d decisions, want 1000", workers, n)
		}
		if n := queryInt(t, data, `SELECT count(DISTINCT "order") FROM decisions WHERE "order" BETWEEN 0 AND 999`); n != 1000 {
			t.Fatalf("--workers %s: %d distinct order positions, want 0..999", workers, n)
		}
	}
	if n := queryInt(t, data, `SELECT count(*) FROM decisions WHERE decision = 'limited'`); n == 0 {
		t.Fatal("nothing limited in the sample: the comparison proves little")
	}
}

func TestReplayDataBadInput(t *testing.T) {
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"replay", "--data", filepath.Join(empty, "missing")}, exitError, "not a directory (run 'ctlimits ingest"},
		{[]string{"replay", "--data", empty}, exitError, "no certificates in " + empty + ": run 'ctlimits ingest"},
		{[]string{"replay", "--data", empty, "--orders", "x.jsonl", "--in-memory"}, exitUsage, "--in-memory applies to replays of DATA alone"},
		{[]string{"replay", "--data", empty, "--orders", "x.jsonl", "--issuers", "all"}, exitUsage, "a plan is laid over one replay"},
		{[]string{"replay", "--data", empty, "--orders", "x.jsonl"}, exitError, "x.jsonl"},
		{[]string{"replay", "--orders", sample, "--since", "2026-01-01"}, exitUsage, "--since applies to --data replays"},
		{[]string{"replay", "--data", empty, "--since", "last tuesday"}, exitUsage, `--since "last tuesday"`},
		{[]string{"replay", "--data", empty, "--issuers", "(unclosed"}, exitUsage, "not production, staging, other, all, or a valid regular expression"},
		{[]string{"replay", "--data", empty, "--workers", "0"}, exitUsage, "--workers 0: want 1 or more"},
		{[]string{"replay", "--data", empty, "--format", "jsonl"}, exitUsage, "--format jsonl needs --out FILE"},
	} {
		code, _, stderr := run(t, "", c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d stderr %q, want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

// decisionFiles lists the current decisions generation's files.
func decisionFiles(t *testing.T, data string) []string {
	t.Helper()
	dd, err := datadir.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := dd.Decisions()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// With --policy named, staging is replayed under the same policy as
// production, still apart: both streams' decisions must survive, in one
// generation. (Each stream used to replace the policy's whole directory,
// so staging's pass deleted production's decisions.)
func TestReplayDataStagingUnderTheSamePolicyKeepsProduction(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := run(t, "", "demo", "--data", data, "--log-dir", "../../testdata/demolog"); code != exitOK {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	for _, args := range [][]string{
		{"replay", "--data", data, "--issuers", "all", "--policy", "letsencrypt"},
		{"replay", "--data", data, "--issuers", "all", "--limits", "../../replay/testdata/working_defaults.yml"},
	} {
		if code, _, stderr := run(t, "", args...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		prod := queryInt(t, data, `SELECT count(*) FROM decisions WHERE issuer_group <> 'letsencrypt-staging'`)
		staging := queryInt(t, data, `SELECT count(*) FROM decisions WHERE issuer_group = 'letsencrypt-staging'`)
		if prod != 433 || staging != 40 {
			t.Fatalf("%v: %d production and other, %d staging decisions; want 433 and 40", args, prod, staging)
		}
		if n := queryInt(t, data, `SELECT count(DISTINCT policy) FROM decisions`); n != 1 {
			t.Fatalf("%v: %d policies in the decisions, want 1", args, n)
		}
	}
}

// A killed replay leaves a hidden generation behind; the next replay
// removes it, and the decisions of the last good replay stay readable
// meanwhile.
func TestReplayDataSweepsWhatAKilledReplayLeft(t *testing.T) {
	data := ingestSample(t)
	if code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "other"); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	left := filepath.Join(data, "decisions", ".gen-20260101T000000.000000000Z.tmp")
	if err := os.MkdirAll(filepath.Join(left, "policy=letsencrypt"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(left, "policy=letsencrypt", "production-part-00000.parquet"), []byte("half"), 0o644)
	if n := queryInt(t, data, `SELECT count(*) FROM decisions`); n != 1000 {
		t.Fatalf("%d decisions readable with a leftover generation, want 1000", n)
	}
	code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "other")
	if code != exitOK || !strings.Contains(stderr, "removed 1 unfinished decisions generation") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Fatalf("the leftover generation is still there: %v", err)
	}
}

// The bounded-memory replay reads history in NotBefore slices and must
// decide exactly as the in-memory replay, whatever the slice length and
// skew (short slices make many merges of certificates logged across
// slice boundaries), row for row, every column.
func TestReplayDataSlicesDecideAsInMemory(t *testing.T) {
	for _, sample := range []struct{ name, issuers string }{{"ctlog", "other"}, {"demolog", "all"}} {
		data := t.TempDir()
		if sample.name == "ctlog" {
			data = ingestSample(t)
		} else if code, _, stderr := run(t, "", "demo", "--data", data, "--log-dir", "../../testdata/demolog"); code != exitOK {
			t.Fatalf("demo: exit %d: %s", code, stderr)
		}
		if code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", sample.issuers, "--in-memory"); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		ref := filepath.Join(t.TempDir(), "ref.parquet")
		copyDecisions(t, data, ref)
		for _, args := range [][]string{
			{},
			{"--slice", "5h", "--nb-skew", "2h"},
			{"--slice", "11h", "--nb-skew", "61m"},
			{"--slice", "100000h"},
			{"--workers", "1", "--slice", "24h", "--nb-skew", "1h"},
		} {
			code, _, stderr := run(t, "", append([]string{"replay", "--data", data, "--issuers", sample.issuers}, args...)...)
			if code != exitOK {
				t.Fatalf("%s %v: exit %d: %s", sample.name, args, code, stderr)
			}
			if n := differing(t, data, ref); n != 0 {
				t.Fatalf("%s %v: %d rows differ from the in-memory replay", sample.name, args, n)
			}
		}
		if n := queryInt(t, data, `SELECT count(*) FROM decisions WHERE decision = 'limited'`); n == 0 {
			t.Fatalf("%s: nothing limited: the comparison proves little", sample.name)
		}
	}
}

// copyDecisions writes the current decisions into one Parquet file.
func copyDecisions(t *testing.T, data, path string) {
	t.Helper()
	db, err := sql.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.DB().Exec(`COPY (SELECT * EXCLUDE (over_model, profile) FROM decisions) TO '` + path + `' (FORMAT parquet)`); err != nil {
		t.Fatal(err)
	}
}

// Nightly: the demo log (a hundred days) is ingested a piece at a time
// and replayed after each piece, resuming from the saved states; the
// decisions must equal one replay from scratch of the whole log, row for
// row, every column, for many split points, with both streams
// (production and staging under their own policies).
func TestReplayDataResumesExactly(t *testing.T) {
	logArgs := logFlags(t, "../../testdata/demolog")
	ingestTo := func(data string, to int) {
		args := append([]string{"ingest", "--data", data, "--quiet", "--to", strconv.Itoa(to)}, logArgs...)
		if code, _, stderr := run(t, "", args...); code != exitOK {
			t.Fatalf("ingest --to %d: exit %d: %s", to, code, stderr)
		}
	}
	full := t.TempDir()
	ingestTo(full, 722)
	if code, _, stderr := run(t, "", "replay", "--data", full, "--issuers", "all", "--from-scratch"); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ref := filepath.Join(t.TempDir(), "ref.parquet")
	copyDecisions(t, full, ref)
	if n := queryInt(t, full, `SELECT count(*) FROM decisions WHERE decision = 'limited'`); n == 0 {
		t.Fatal("nothing limited in the demo log: the comparison proves little")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cases := [][]int{{100, 200, 300, 400, 500, 600, 700}, {1, 2, 721}, {361}, {400, 401, 402}}
	for range 4 {
		var s []int
		for range 1 + rng.IntN(5) {
			s = append(s, 1+rng.IntN(720))
		}
		slices.Sort(s)
		cases = append(cases, slices.Compact(s))
	}
	for _, splits := range cases {
		data := t.TempDir()
		resumed := 0
		for _, to := range append(splits, 722) {
			ingestTo(data, to)
			code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "all", "--keep-days", "200", "--slice", "24h")
			if code != exitOK {
				t.Fatalf("%v to %d: exit %d: %s", splits, to, code, stderr)
			}
			resumed += strings.Count(stderr, "resuming from the state saved at")
		}
		if resumed == 0 {
			t.Fatalf("%v: no replay resumed from a saved state", splits)
		}
		if n := differing(t, data, ref); n != 0 {
			t.Fatalf("splits %v: %d rows differ from the replay from scratch", splits, n)
		}
	}
}

// Certificates logged again days later (a final certificate submitted to
// another log) arrive as new entries after the resume point while their
// first entries lie before it: the resumed replay must leave them out, as
// a replay from scratch deduplicates them, and must count the entries as
// late when they are older than the last replay's watermark.
func TestReplayDataResumeLeavesOutCertificatesLoggedBefore(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := run(t, "", "demo", "--data", data, "--log-dir", "../../testdata/demolog"); code != exitOK {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "all", "--keep-days", "30", "--from-scratch"); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// Another log holding copies of the last fortnight's certificates,
	// logged three days after their first entries.
	late := filepath.Join(data, "entries", "log=another", "0000000000-0000000099.parquet")
	os.MkdirAll(filepath.Dir(late), 0o755)
	db, err := sql.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.DB().Exec(`COPY (SELECT * REPLACE ('another' AS log, logged_at + INTERVAL 3 DAY AS logged_at)
		FROM entries WHERE logged_at > (SELECT max(logged_at) - INTERVAL 14 DAY FROM entries) ORDER BY idx)
		TO '` + late + `' (FORMAT parquet)`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "all", "--keep-days", "30")
	if code != exitOK || !strings.Contains(stderr, "resuming from the state saved at") || !strings.Contains(stderr, "late") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	resumed := filepath.Join(t.TempDir(), "resumed.parquet")
	copyDecisions(t, data, resumed)
	if code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "all", "--from-scratch"); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := differing(t, data, resumed); n != 0 {
		t.Fatalf("%d rows differ between the resumed replay and the replay from scratch", n)
	}
	if n := queryInt(t, data, `SELECT count(*) FROM decisions`); n != 473 {
		t.Fatalf("%d decisions, want the demo's 473 certificates", n)
	}
}

// A damaged saved state, or one written under another policy, is refused
// with an error that names it and says what to do; --from-scratch
// rebuilds it.
func TestReplayDataRefusesDamagedOrForeignStates(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := run(t, "", "demo", "--data", data, "--log-dir", "../../testdata/demolog"); code != exitOK {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	for _, policy := range []string{"letsencrypt-2019", "letsencrypt"} {
		if code, _, stderr := run(t, "", "replay", "--data", data, "--policy", policy, "--from-scratch"); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	states := func(glob string) []string {
		m, _ := filepath.Glob(filepath.Join(data, "replay", glob, "*.state"))
		slices.Sort(m)
		if len(m) == 0 {
			t.Fatalf("no states in %s", glob)
		}
		return m
	}
	// The letsencrypt stream is the newest directory written; find it by
	// its record's policy.
	var mine, foreign []string
	dirs, _ := filepath.Glob(filepath.Join(data, "replay", "production-*"))
	for _, d := range dirs {
		if strings.HasPrefix(filepath.Base(d), "production-other-") { // the demo's own replay
			continue
		}
		b, _ := os.ReadFile(filepath.Join(d, "resume.json"))
		if strings.Contains(string(b), `"policy": "letsencrypt"`) {
			mine = states(filepath.Base(d))
		} else {
			foreign = states(filepath.Base(d))
		}
	}
	latest := mine[len(mine)-1]
	// Another policy's state in its place.
	b, _ := os.ReadFile(foreign[len(foreign)-1])
	os.WriteFile(latest, b, 0o644)
	code, _, stderr := run(t, "", "replay", "--data", data, "--policy", "letsencrypt")
	if code != exitError || !strings.Contains(stderr, latest) || !strings.Contains(stderr, "letsencrypt-2019") || !strings.Contains(stderr, "--from-scratch") {
		t.Fatalf("a foreign state: exit %d: %s", code, stderr)
	}
	// A damaged one.
	os.WriteFile(latest, []byte("CTLIMITS-STATE not really"), 0o644)
	code, _, stderr = run(t, "", "replay", "--data", data, "--policy", "letsencrypt")
	if code != exitError || !strings.Contains(stderr, latest) || !strings.Contains(stderr, "--from-scratch") {
		t.Fatalf("a damaged state: exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, "", "replay", "--data", data, "--policy", "letsencrypt", "--from-scratch"); code != exitOK {
		t.Fatalf("--from-scratch: exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, "", "replay", "--data", data, "--policy", "letsencrypt"); code != exitOK || !strings.Contains(stderr, "resuming from the state saved at") {
		t.Fatalf("after --from-scratch: exit %d: %s", code, stderr)
	}
}

// --domain selects the domains' connected components in DuckDB, closing
// them round by round (the sample log ties sites together through
// example.org and IP addresses); the decisions of those orders must be
// the full replay's, every column but the position.
func TestReplayDataDomainEqualsTheFullReplay(t *testing.T) {
	data := ingestSample(t)
	if code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "other", "--from-scratch"); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rounds := 0
	for _, d := range []string{"site42.example", "site77.example", "example.org", "site28.example", "192.0.2.78"} {
		out := filepath.Join(t.TempDir(), "d.parquet")
		code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "other", "--domain", d, "--out", out)
		if code != exitOK {
			t.Fatalf("--domain %s: exit %d: %s", d, code, stderr)
		}
		if !strings.Contains(stderr, "closed in 1 rounds") {
			rounds++
		}
		q := `SELECT count(*) FROM (
			(SELECT * EXCLUDE ("order") FROM read_parquet('` + out + `')
			 EXCEPT ALL SELECT * EXCLUDE ("order", over_model, profile) FROM decisions
			   WHERE (issuer, serial) IN (SELECT (issuer, serial) FROM read_parquet('` + out + `'))))`
		if n := queryInt(t, data, q); n != 0 {
			t.Fatalf("--domain %s: %d decisions differ from the full replay's", d, n)
		}
		// The component is closed: no order outside it shares a domain.
		q = `SELECT count(*) FROM decisions WHERE (issuer, serial) NOT IN (SELECT (issuer, serial) FROM read_parquet('` + out + `'))
			AND list_has_any(registered_domains, (SELECT flatten(list(registered_domains)) FROM read_parquet('` + out + `')))`
		if n := queryInt(t, data, q); n != 0 {
			t.Fatalf("--domain %s: %d orders outside the selection share its domains", d, n)
		}
	}
	if rounds == 0 {
		t.Fatal("every component closed in one round: the test proves little")
	}
}

// differing counts the rows that differ, either way, between the current
// decisions (less the view's over_model) and a Parquet file of decisions.
func differing(t *testing.T, data, ref string) int64 {
	t.Helper()
	return queryInt(t, data, `SELECT count(*) FROM (
		(SELECT * EXCLUDE (over_model, profile) FROM decisions EXCEPT ALL SELECT * FROM read_parquet('`+ref+`'))
		UNION ALL
		(SELECT * FROM read_parquet('`+ref+`') EXCEPT ALL SELECT * EXCLUDE (over_model, profile) FROM decisions))`)
}

// A resumed replay reads the new entries files with read_parquet, not the
// entries view: their log IDs must be the view's (standard base64), not
// the URL-safe names of the log= directories DuckDB would read as a hive
// partition, or the record holds one log under two names and the
// watermark never advances past the first replay's.
func TestReplayDataResumeAdvancesTheLogsNewest(t *testing.T) {
	logArgs := logFlags(t, "../../testdata/demolog")
	data := t.TempDir()
	for _, to := range []int{300, 722} {
		args := append([]string{"ingest", "--data", data, "--quiet", "--to", strconv.Itoa(to)}, logArgs...)
		if code, _, stderr := run(t, "", args...); code != exitOK {
			t.Fatalf("ingest --to %d: exit %d: %s", to, code, stderr)
		}
		if code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "all"); code != exitOK {
			t.Fatalf("replay after ingest --to %d: exit %d: %s", to, code, stderr)
		}
	}
	var log string
	var newest time.Time
	db, err := sql.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.DB().QueryRow(`SELECT log, max(logged_at) FROM entries GROUP BY log`).Scan(&log, &newest); err != nil {
		t.Fatal(err)
	}
	records, _ := filepath.Glob(filepath.Join(data, "replay", "*", "resume.json"))
	if len(records) == 0 {
		t.Fatal("no replay record")
	}
	for _, path := range records { // one per stream (production, staging)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			LogNewest map[string]time.Time `json:"log_newest"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		if len(rec.LogNewest) != 1 || !rec.LogNewest[log].Equal(newest) {
			t.Errorf("%s: log_newest %v, want only %s at %s (the entries view's newest)", path, rec.LogNewest, log, newest.UTC())
		}
	}
}
