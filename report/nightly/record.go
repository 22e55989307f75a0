package nightly

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Record is what a run leaves in DATA/reports/<time>/run.json, for the
// next run's diff and for machines. Status and ExitCode always agree: one
// comes from the other.
type Record struct {
	Time     time.Time  `json:"time"`
	Status   string     `json:"status"`
	ExitCode int        `json:"exit_code"`
	Reasons  []string   `json:"reasons"`
	Notes    []string   `json:"notes,omitempty"`
	Newest   *time.Time `json:"newest_certificate"`
	// Reports is the directory holding this run's files ("" if none
	// could be written).
	Reports      string        `json:"reports,omitempty"`
	Logs         []LogResult   `json:"logs"`
	Decisions    []Decisions   `json:"decisions"`
	Watch        []WatchResult `json:"watch"`
	NewlyLimited []Limited     `json:"newly_limited"`
}

// LogResult is one log's ingest in a run.
type LogResult struct {
	Log      string `json:"log"`
	Entries  int64  `json:"entries_this_run"`
	TreeSize int64  `json:"tree_size"`
	Error    string `json:"error,omitempty"`
}

// Decisions are one replay stream's counts.
type Decisions struct {
	Issuers   string `json:"issuers"`
	Policy    string `json:"policy"`
	Orders    int64  `json:"orders"`
	New       int64  `json:"new"`
	Renewal   int64  `json:"renewal"`
	OverModel int64  `json:"over_model"`
}

// WatchResult is a watched domain as measured at the newest certificate.
type WatchResult struct {
	Domain     string    `json:"domain"`
	Tokens     int64     `json:"tokens"`
	Burst      int64     `json:"burst"`
	FullAt     time.Time `json:"full_at"`
	WarnTokens int64     `json:"warn_tokens"`
	LimitedNew int64     `json:"limited_since_last_run"`
	Status     string    `json:"status"`
	Certs7Days int64     `json:"new_certificates_7d"`
	// Issued says whether the data holds any certificate of the domain.
	Issued bool `json:"issued"`
}

// Limited is an order over the model.
type Limited struct {
	IssuedAt time.Time `json:"issued_at"`
	Issuer   string    `json:"issuer"`
	Serial   string    `json:"serial"`
	Names    []string  `json:"names"`
	Message  string    `json:"message"`
}

// recordDirLayout names a run's reports directory by its time, to the
// nanosecond, so two runs a day (or a second) never share one, and names
// sort in time order.
const recordDirLayout = "2006-01-02T15-04-05.000000000Z"

// PreviousRecord reads the newest run record in reportsDir, nil if none.
// Records of the layout before per-run directories (<date>.run.json) are
// read too.
func PreviousRecord(reportsDir string) (*Record, error) {
	var files []string
	dirs, err := os.ReadDir(reportsDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("couldn't list %s: %w", reportsDir, err)
	}
	for _, e := range dirs {
		switch {
		case strings.HasPrefix(e.Name(), "."):
		case e.IsDir():
			files = append(files, filepath.Join(reportsDir, e.Name(), "run.json"))
		case strings.HasSuffix(e.Name(), ".run.json"):
			files = append(files, filepath.Join(reportsDir, e.Name()))
		}
	}
	var newest *Record
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var r Record
		if json.Unmarshal(b, &r) != nil {
			continue
		}
		if newest == nil || r.Time.After(newest.Time) {
			newest = &r
		}
	}
	return newest, nil
}

// Diff says what changed since the previous run, in Markdown.
func Diff(prev, cur *Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# ctlimits run %s: %s\n\n", cur.Time.Format(time.RFC3339), cur.Status)
	if prev == nil {
		fmt.Fprintf(&b, "First run: nothing to compare with.\n\n")
	} else {
		fmt.Fprintf(&b, "Compared with the run of %s (%s).\n\n", prev.Time.Format(time.RFC3339), prev.Status)
	}
	for _, r := range cur.Reasons {
		fmt.Fprintf(&b, "- %s\n", r)
	}
	for _, n := range cur.Notes {
		fmt.Fprintf(&b, "- note: %s\n", n)
	}
	if len(cur.Reasons)+len(cur.Notes) > 0 {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "## Newly limited orders (%d)\n\n", len(cur.NewlyLimited))
	for i, l := range cur.NewlyLimited {
		if i == 20 {
			fmt.Fprintf(&b, "- ... and %d more (the run's run.json lists them all)\n", len(cur.NewlyLimited)-20)
			break
		}
		fmt.Fprintf(&b, "- %s %s: %s\n", l.IssuedAt.Format(time.RFC3339), strings.Join(l.Names, " "), l.Message)
	}
	b.WriteString("\n## Watched domains\n\n| domain | status | was | tokens | new certs 7d | limited since last run |\n|---|---|---|---|---|---|\n")
	for _, w := range cur.Watch {
		was := "-"
		if prev != nil {
			for _, pw := range prev.Watch {
				if pw.Domain == w.Domain {
					was = pw.Status
				}
			}
		}
		crossed := ""
		if was != "-" && was != w.Status {
			crossed = " (changed)"
		}
		fmt.Fprintf(&b, "| %s | %s%s | %s | %d/%d | %d | %d |\n", w.Domain, w.Status, crossed, was, w.Tokens, w.Burst, w.Certs7Days, w.LimitedNew)
	}
	return b.String()
}
