//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ctlimits/ctlimits/ingest/loglist"
	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/report"
	"github.com/ctlimits/ctlimits/sql"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

// reportFormats are the formats 'ctlimits report' writes.
var reportFormats = []string{"text", "markdown", "json", "csv", "html"}

func init() {
	register(&command{
		name:    "report",
		summary: "Report on a replay: summary, limited orders, busiest domains, override sizing, headroom",
		usage: "(--data DIR | --decisions FILE [--data DIR]) [--format text|markdown|json|csv|html] [--out FILE] [--domain D ...]\n" +
			"                [--top N] [--at TIME] [--headroom F] [--policy NAME] [--limits FILE] [--overrides FILE] [--limited N]",
		setup: func(fs *pflag.FlagSet) {
			fs.String("data", "./data", "data `directory` with entries and decisions ('ctlimits ingest', then 'ctlimits replay --data')")
			fs.String("decisions", "", "report on these Parquet decisions `file` instead of DATA's: a plan ('ctlimits replay --orders PLAN --out FILE.parquet', with --data DIR laid over DATA's certificates)")
			fs.String("format", "text", "output format: "+strings.Join(reportFormats, ", "))
			fs.StringP("out", "o", "", "write to this file, atomically (default: stdout); csv: a directory (DIR/<table>.csv) or a prefix (PREFIX.<table>.csv), required")
			fs.StringArray("domain", nil, "a registered `domain` to report on, size and measure the headroom of (repeatable)")
			fs.Int("top", 10, "how many registered domains to list (by new certificates), and how many limited domains to size")
			fs.String("at", "", "\"now\" for the headroom and the current week, RFC 3339 or YYYY-MM-DD (default: the newest order)")
			fs.Float64("headroom", 1.2, "factor on the replayed size before choosing an override tier")
			fs.String("policy", "", "the policy the decisions must have been replayed under, used for sizing (default: the decisions' own)")
			fs.String("limits", "", "Boulder-format defaults YAML the decisions were replayed with: sizing, headroom and the plan's retries use them")
			fs.String("overrides", "", "Boulder-format overrides YAML the decisions were replayed with (an override you already have): sizing, headroom and the plan's retries use them")
			fs.Int("limited", 100, "how many limited orders to list, newest first (0: all)")
		},
		run: runReport,
	})
}

func runReport(ctx context.Context, env *cmdEnv, args []string) error {
	fs := env.fs
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	data, _ := fs.GetString("data")
	format, _ := fs.GetString("format")
	if !slices.Contains(reportFormats, format) {
		return usagef("unknown --format %q; choose one of %s", format, strings.Join(reportFormats, ", "))
	}
	out, _ := fs.GetString("out")
	if format == "csv" && (out == "" || out == "-") {
		return usagef("--format csv writes one file per table: give --out DIR/ or --out PREFIX")
	}
	var opts report.Options
	opts.Domains, _ = fs.GetStringArray("domain")
	opts.Top, _ = fs.GetInt("top")
	if opts.Top <= 0 {
		return usagef("--top must be at least 1")
	}
	opts.Headroom, _ = fs.GetFloat64("headroom")
	if opts.Headroom < 1 {
		return usagef("--headroom %g: must be at least 1 (1.2 asks for 20%% more than the replay needed)", opts.Headroom)
	}
	if n, _ := fs.GetInt("limited"); n > 0 {
		opts.LimitedRows = n
	} else {
		opts.LimitedRows = -1
	}
	if at, _ := fs.GetString("at"); at != "" {
		t, err := parseTime(at)
		if err != nil {
			return usagef("--at %q: want RFC 3339 (2026-03-01T12:00:00Z) or a date (2026-03-01)", at)
		}
		opts.At = t
	}
	policy, _ := fs.GetString("policy")
	if policy != "" {
		p, err := replay.LookupPolicy(policy)
		if err != nil {
			return usageError{err}
		}
		opts.Policy = p
	}
	limits, _ := fs.GetString("limits")
	overrides, _ := fs.GetString("overrides")
	if limits != "" || overrides != "" {
		// Read now, so that a bad file fails before any query.
		if _, err := orderio.LoadPolicy("letsencrypt", limits, overrides); err != nil {
			return err
		}
		opts.Adjust = func(p *replay.Policy) error {
			q, err := orderio.LoadPolicy(strings.TrimSuffix(p.Name, "+limits"), limits, overrides)
			if err != nil {
				return err
			}
			q.AssumeARI = p.AssumeARI
			*p = *q
			return nil
		}
	}
	decisions, _ := fs.GetString("decisions")
	var db *sql.DB
	var err error
	if decisions != "" {
		// DATA's certificates and logs only when asked for: the plan's
		// decisions hold whatever of DATA they were replayed over.
		if !fs.Changed("data") {
			data = ""
		}
		db, err = sql.OpenDecisions(data, []string{decisions})
	} else {
		db, err = sql.Open(data)
	}
	if err != nil {
		return reportDataError(data, err)
	}
	defer db.Close()
	opts.LogNames = logNames(data)
	r, err := report.Build(ctx, db.DB(), opts)
	if err != nil {
		if decisions != "" && errors.Is(err, report.ErrNoEntries) {
			return fmt.Errorf("no decisions in %s: replay a plan into it with 'ctlimits replay --orders PLAN --out %s'", decisions, decisions)
		}
		return reportDataError(data, db.Explain(err))
	}
	if policy != "" {
		if base, _, _ := strings.Cut(r.Policy, "+"); base != policy {
			if decisions != "" {
				return fmt.Errorf("the decisions in %s were replayed under %s, not %s: replay the plan with --policy %s first", decisions, r.Policy, policy, policy)
			}
			return fmt.Errorf("the decisions in %s were replayed under %s, not %s: run 'ctlimits replay --data %s --policy %s' first", data, r.Policy, policy, data, policy)
		}
	}
	// Entries ingested after the last replay are not in its decisions:
	// say so, in the report and on stderr, rather than report old
	// decisions as current.
	if dd, err := datadir.Open(data); err == nil && decisions == "" {
		if at := dd.DecisionsModTime(); !at.IsZero() {
			if n := dd.EntriesNewerThan(at); n > 0 {
				note := fmt.Sprintf("the decisions are older than the data: %d entries files were ingested after the last replay (%s); run 'ctlimits replay --data %s' for decisions that include them",
					n, at.UTC().Format(time.RFC3339), data)
				r.Notes = append(r.Notes, note)
				fmt.Fprintf(env.stderr, "ctlimits report: %s\n", note)
			}
		}
	}
	return writeReport(r, format, out, env.stdout)
}

// reportDataError says what to do about a data directory the report
// cannot use.
func reportDataError(data string, err error) error {
	var ue *report.UnknownDomainError
	var fe *sql.FileError
	switch {
	case errors.As(err, &fe):
		// Names the file, and says whether it is damaged or unreadable.
		return err
	case errors.Is(err, report.ErrNoEntries):
		return fmt.Errorf("no CT entries in %s: run 'ctlimits ingest --data %s' first", data, data)
	case errors.Is(err, report.ErrNoDecisions):
		return fmt.Errorf("no decisions in %s yet: run 'ctlimits replay --data %s' first", data, data)
	case errors.As(err, &ue):
		return fmt.Errorf("--domain %s", ue.Error())
	case strings.Contains(err.Error(), "parquet") || strings.Contains(err.Error(), "Parquet"):
		return fmt.Errorf("couldn't read %s: %w\n(a damaged Parquet file: move it away, then re-run 'ctlimits ingest --data %s' for entries or 'ctlimits replay --data %s' for decisions)", data, err, data, data)
	}
	return err
}

// parseTime reads RFC 3339 or a bare date (midnight UTC).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Parse("2006-01-02", s)
}

// writeReport renders r in format to out (stdout when empty), atomically.
// csv writes one file per table: into out when it is a directory or ends
// in a slash (DIR/summary.csv, ...), else next to it as out.<table>.csv.
func writeReport(r *report.Report, format, out string, stdout io.Writer) error {
	switch format {
	case "csv":
		for _, name := range report.CSVTables {
			if err := writeOutput(csvPath(out, name), stdout, func(w io.Writer) error { return r.WriteCSV(name, w) }); err != nil {
				return err
			}
		}
		return nil
	case "markdown":
		return writeOutput(out, stdout, r.WriteMarkdown)
	case "json":
		return writeOutput(out, stdout, r.WriteJSON)
	case "html":
		return writeOutput(out, stdout, r.WriteHTML)
	default:
		return writeOutput(out, stdout, r.WriteText)
	}
}

func csvPath(out, table string) string {
	if st, err := os.Stat(out); (err == nil && st.IsDir()) || strings.HasSuffix(out, "/") || strings.HasSuffix(out, string(filepath.Separator)) {
		os.MkdirAll(out, 0o755)
		return filepath.Join(out, table+".csv")
	}
	return out + "." + table + ".csv"
}

// logNames maps log IDs to their descriptions, for the report to name
// logs by: from the embedded log list, then from DATA's ingest states
// (which also know logs the list does not, such as the demo's).
func logNames(data string) map[string]string {
	names := map[string]string{}
	if ll, err := loglist.Load(""); err == nil {
		for i := range ll.Logs {
			l := &ll.Logs[i]
			names[l.ID()], names[l.DirName()] = l.Description, l.Description
		}
	}
	if data == "" {
		return names
	}
	files, _ := filepath.Glob(filepath.Join(data, "state", "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var st struct {
			LogID       string `json:"log_id"`
			Description string `json:"description"`
			URL         string `json:"url"`
		}
		// A log ingested by its URL (--log URL) has its URL for a
		// description: no better a name than its ID.
		if json.Unmarshal(b, &st) == nil && st.LogID != "" && st.Description != "" && strings.TrimSuffix(st.Description, "/") != strings.TrimSuffix(st.URL, "/") {
			names[st.LogID] = st.Description
			names[strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(st.LogID), "=")] = st.Description
		}
	}
	return names
}
