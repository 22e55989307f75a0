package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/sql"
)

var testHistory = History{Seed: 7, Start: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), Hosting: 3, LogID: defaultLogID(7)}

func writeHistory(t *testing.T, data string, certs int64, days int) *EntriesSummary {
	t.Helper()
	s, err := WriteEntries(EntriesOptions{Data: data, Certs: certs, Days: days, History: testHistory, FileEntries: 4096})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func appendDays(t *testing.T, data string, days int) *EntriesSummary {
	t.Helper()
	s, err := WriteEntries(EntriesOptions{Data: data, Append: days})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEntriesReadByThePipeline: a small history over 130 days is what
// ctlimits' own views and replay read, with the counts ctgen reports, and
// shaped like Let's Encrypt in steady state.
func TestEntriesReadByThePipeline(t *testing.T) {
	data := t.TempDir()
	s := writeHistory(t, data, 20000, 130)
	st := s.State
	if s.Certificates != st.Certificates || s.Entries != st.NextIndex || st.Days != 130 {
		t.Fatalf("summary %+v, state %+v", s, st)
	}
	inWindow := st.Certificates - st.LeadIn
	if inWindow < 18000 || inWindow > 24000 {
		t.Fatalf("%d certificates in the 130 days, want about 20000", inWindow)
	}
	db, err := sql.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var certs, serials, entries, precerts, finals, idxMax, nullErr int64
	var first, last time.Time
	row := db.DB().QueryRow(`SELECT count(*), count(DISTINCT serial), sum(entries), count(*) FILTER (precert), count(*) FILTER (final),
		min(issued_at), max(issued_at) FROM certificates`)
	if err := row.Scan(&certs, &serials, &entries, &precerts, &finals, &first, &last); err != nil {
		t.Fatal(err)
	}
	if err := db.DB().QueryRow(`SELECT max(idx), count(*) FILTER (parse_error IS NOT NULL OR issuer_group(issuer) <> 'letsencrypt') FROM entries`).Scan(&idxMax, &nullErr); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d certificates (%d before the window), %d entries, %d with a final entry; %s to %s", certs, st.LeadIn, entries, finals, first, last)
	if certs != st.Certificates || serials != certs || entries != st.NextIndex || idxMax != st.NextIndex-1 || precerts != certs {
		t.Fatalf("view: %d certificates (%d serials), %d entries up to index %d, %d precerts; ctgen wrote %d certificates, %d entries",
			certs, serials, entries, idxMax, precerts, st.Certificates, st.NextIndex)
	}
	if nullErr != 0 {
		t.Fatalf("%d entries with a parse error or not from Let's Encrypt", nullErr)
	}
	if f := float64(finals) / float64(certs); f < 0.85 || f > 0.95 {
		t.Fatalf("%.2f of certificates with a final entry, want 0.9", f)
	}
	if end := testHistory.Start.AddDate(0, 0, 130); !last.Before(end) || !first.Before(testHistory.Start) || first.Before(testHistory.Start.AddDate(0, 0, -leadDays)) {
		t.Fatalf("certificates from %s to %s", first, last)
	}
	// Names: ctgen's names, the CN the first, validity 90 days from an
	// hour before issuance.
	bad := 0
	nameRE := regexp.MustCompile(`^((www|h\d+)\.)?(s\d+\.)?d\d+\.[a-z.]+$|^customer\d+\.host\d+\.example$`)
	rows, err := db.DB().Query(`SELECT CAST(to_json(dns_names) AS VARCHAR), common_name, epoch_ms(logged_at) - epoch_ms(not_before), epoch_ms(not_after) - epoch_ms(not_before) FROM entries WHERE entry_type = 'precert'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var js, cn string
		var back, validity int64
		if err := rows.Scan(&js, &cn, &back, &validity); err != nil {
			t.Fatal(err)
		}
		var names []string
		if err := json.Unmarshal([]byte(js), &names); err != nil {
			t.Fatal(err)
		}
		if len(names) == 0 || len(names) > 101 || names[0] != cn || back < 3600_000 || back > 3601_000 || validity != 90*dayMs-1000 {
			bad++
		}
		for _, n := range names {
			if !nameRE.MatchString(n) {
				t.Fatalf("name %q", n)
			}
		}
	}
	if rows.Err() != nil || bad > 0 {
		t.Fatalf("%d certificates with bad names or validity (%v)", bad, rows.Err())
	}
	// The replay: in steady state about 2/3 of the window's orders repeat
	// an earlier set and are renewals, including renewals of sets first
	// issued in the window.
	q := orderio.CertTableQuery
	tr, err := db.DB().Query(q)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := orderio.LoadCertTable(context.Background(), "certificates", tr)
	if err != nil {
		t.Fatal(err)
	}
	tab.Sort()
	recs, err := orderio.ReadAll(context.Background(), tab.Reader())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := replay.LookupPolicy("letsencrypt")
	r := replay.NewReplayer(p)
	var namer replay.Namer
	var res replay.Result
	seen := map[string]time.Time{} // first issuance of each exact set
	var window, renewals, renewedNew, repeats int
	for _, rec := range recs {
		pr, err := namer.Prepare(&rec.Order)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Decide(&pr, &res); err != nil {
			t.Fatal(err)
		}
		key := strings.Join(pr.Names, " ")
		firstSeen, ok := seen[key]
		if !ok {
			seen[key] = rec.Order.IssuedAt
			firstSeen = rec.Order.IssuedAt
		}
		if rec.Order.IssuedAt.Before(testHistory.Start) {
			continue
		}
		window++
		if ok {
			repeats++
		}
		if res.Renewal {
			renewals++
			if !firstSeen.Before(testHistory.Start) {
				renewedNew++
			}
		}
	}
	share := float64(renewals) / float64(window)
	t.Logf("replay: %d orders in the window, %.2f renewals (%.2f repeat an earlier set), %d renewals of sets first issued in the window", window, share, float64(repeats)/float64(window), renewedNew)
	// The replay limits the heaviest domains, whose later certificates
	// then are not renewals in its model: fewer than the repeats.
	if rep := float64(repeats) / float64(window); rep < 0.6 || rep > 0.72 || share < 0.5 {
		t.Fatalf("%.2f of the window's orders repeat an earlier set and %.2f are renewals, want about 2/3", rep, share)
	}
	if renewedNew < window/40 {
		t.Fatalf("%d renewals of sets first issued in the window", renewedNew)
	}
}

// readDir returns the files under dir by relative path, ctgen's state
// without its time.
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		if rel == stateName {
			var st entriesState
			if err := json.Unmarshal(b, &st); err != nil {
				return err
			}
			st.UpdatedAt = time.Time{}
			b, _ = json.Marshal(st)
		}
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameFiles(t *testing.T, what string, a, b map[string][]byte) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d files and %d files", what, len(a), len(b))
	}
	for name, x := range a {
		if y, ok := b[name]; !ok || !bytes.Equal(x, y) {
			t.Fatalf("%s: %s differs (present: %v)", what, name, ok)
		}
	}
}

// TestEntriesDeterministicAndAppendable: the same seed gives the same
// files byte for byte, and a history grown day by day with -append is
// the history written at once, file for file (files are cut at the end
// of each day, so a day appended gives the same files).
func TestEntriesDeterministicAndAppendable(t *testing.T) {
	at, again, grown := t.TempDir(), t.TempDir(), t.TempDir()
	full := writeHistory(t, at, 7000, 70) // 100 a day
	writeHistory(t, again, 7000, 70)
	want := readDir(t, at)
	sameFiles(t, "same seed", want, readDir(t, again))

	writeHistory(t, grown, 6800, 68) // 100 a day too
	a1 := appendDays(t, grown, 1)
	a2 := appendDays(t, grown, 1)
	if a1.Certificates == 0 || a2.Certificates == 0 || a1.LeadIn != 0 {
		t.Fatalf("appended %+v and %+v", a1, a2)
	}
	if a2.State != full.State && (a2.State.NextIndex != full.State.NextIndex || a2.State.Certificates != full.State.Certificates) {
		t.Fatalf("grown: %+v; at once: %+v", a2.State, full.State)
	}
	sameFiles(t, "appended day by day", want, readDir(t, grown))
}

// TestEntriesRefusesAndRecovers: a new history does not overwrite one,
// -append needs one, and files a failed append left past the state are
// removed and written again.
func TestEntriesRefusesAndRecovers(t *testing.T) {
	data := t.TempDir()
	if _, err := WriteEntries(EntriesOptions{Data: data, Append: 1}); err == nil || !strings.Contains(err.Error(), stateName) {
		t.Fatalf("-append without a history: %v", err)
	}
	writeHistory(t, data, 2000, 20)
	before := readDir(t, data)
	if _, err := WriteEntries(EntriesOptions{Data: data, Certs: 2000, Days: 20, History: testHistory}); err == nil || !strings.Contains(err.Error(), "-append") {
		t.Fatalf("a second history into the same DATA: %v", err)
	}
	sameFiles(t, "after a refused run", before, readDir(t, data))
	// A failed append: a file past the state, and a temporary file.
	var st entriesState
	b, _ := os.ReadFile(filepath.Join(data, stateName))
	json.Unmarshal(b, &st)
	dir := filepath.Join(data, "entries", "log="+strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(st.LogID), "="))
	for _, name := range []string{"0099999999-0099999999.parquet", ".entries-1.parquet.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	appendDays(t, data, 1)
	if _, err := os.Stat(filepath.Join(dir, "0099999999-0099999999.parquet")); err == nil {
		t.Fatal("the file past the state is still there")
	}
	// A missing file is an error, not a silent gap.
	files, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
	os.Remove(files[len(files)-1])
	if _, err := WriteEntries(EntriesOptions{Data: data, Append: 1}); err == nil || !strings.Contains(err.Error(), "end at") {
		t.Fatalf("append after a file went missing: %v", err)
	}
}
