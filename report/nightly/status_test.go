package nightly

import (
	"slices"
	"testing"
	"time"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fresh(w ...WatchResult) Facts {
	return Facts{Newest: now.Add(-time.Hour), Now: now, StaleAfter: 48 * time.Hour, Watch: w}
}

func domain(name string, tokens, warn, limited int64) WatchResult {
	return WatchResult{Domain: name, Tokens: tokens, Burst: 50, WarnTokens: warn, LimitedNew: limited, Issued: true}
}

var judgeTests = []struct {
	name        string
	facts       Facts
	code        int
	reasons     []string
	watchStatus []string
	notes       int
}{
	{"nothing watched, fresh data is OK", fresh(), OK, nil, nil, 0},
	{"headroom everywhere is OK", fresh(domain("a.example", 40, 10, 0)), OK, nil, []string{"OK"}, 0},
	{"under the threshold is WARN", fresh(domain("a.example", 3, 10, 0)), Warn,
		[]string{"a.example has 3 of 50 tokens left (threshold 10), full again 0001-01-01T00:00:00Z"}, []string{"WARN"}, 0},
	{"a limited order is CRIT", fresh(domain("a.example", 0, 10, 2), domain("b.example", 3, 10, 0)), Crit,
		[]string{"a.example had 2 orders limited since the last run", "b.example has 3 of 50 tokens left (threshold 10), full again 0001-01-01T00:00:00Z"},
		[]string{"CRIT", "WARN"}, 0},
	{"a domain with no issuance yet is OK, with a note",
		fresh(WatchResult{Domain: "new.example", Tokens: 50, Burst: 50, WarnTokens: 10}), OK, nil, []string{"OK"}, 1},
	{"a failed log makes it UNKNOWN and says why first",
		Facts{Problems: []string{"log x: checkpoint signature does not verify"}, Newest: now, Now: now, StaleAfter: time.Hour,
			Watch: []WatchResult{domain("a.example", 3, 10, 0)}}, Unknown,
		[]string{"log x: checkpoint signature does not verify", "a.example has 3 of 50 tokens left (threshold 10), full again 0001-01-01T00:00:00Z"},
		[]string{"WARN"}, 0},
	{"CRIT wins over incomplete data",
		Facts{Problems: []string{"log x: down"}, Newest: now, Now: now, StaleAfter: time.Hour, Watch: []WatchResult{domain("a.example", 0, 10, 1)}},
		Crit, []string{"log x: down", "a.example had 1 orders limited since the last run"}, []string{"CRIT"}, 0},
	{"stale data is UNKNOWN",
		Facts{Newest: now.Add(-72 * time.Hour), Now: now, StaleAfter: 48 * time.Hour}, Unknown,
		[]string{"the newest certificate is 72h0m0s old (stale after 48h0m0s)"}, nil, 0},
	{"no certificates at all is UNKNOWN", Facts{Now: now, StaleAfter: time.Hour}, Unknown,
		[]string{"no certificates in the data yet"}, nil, 0},
}

func TestJudge(t *testing.T) {
	t.Parallel()
	for _, tt := range judgeTests {
		t.Run(tt.name, func(t *testing.T) {
			code, reasons, notes, watch := Judge(tt.facts)
			if code != tt.code {
				t.Errorf("status %s, want %s", StatusName(code), StatusName(tt.code))
			}
			if !slices.Equal(reasons, tt.reasons) {
				t.Errorf("reasons\n%q\nwant\n%q", reasons, tt.reasons)
			}
			var st []string
			for _, w := range watch {
				st = append(st, w.Status)
			}
			if !slices.Equal(st, tt.watchStatus) {
				t.Errorf("domain statuses %v, want %v", st, tt.watchStatus)
			}
			if len(notes) != tt.notes {
				t.Errorf("notes %q, want %d", notes, tt.notes)
			}
		})
	}
}
