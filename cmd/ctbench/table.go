package main

import (
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/sql/datadir"
)

// Row is one measured quantity of the table.
type Row struct {
	What     string
	Measured string
	Compared string // "compared with"
	Ratio    string
	Target   string
	Met      string
	Step     string
}

// machine is where and when the run happened.
type machine struct {
	CPU       string
	Cores     int
	Memory    string
	Kernel    string
	Go        string
	Commit    string
	Start     time.Time
	End       time.Time
	LoadStart string
	LoadEnd   string
	PSIStart  string // /proc/pressure/cpu "some" line, if any
	PSIEnd    string
}

// report is everything ctbench prints and writes into docs/benchmarks.md.
type report struct {
	Rows    []Row
	Machine machine
	Records []record
	Mode    string   // "full run" or "quick run (-quick): ..." or "partial run (...)"
	Args    []string // ctbench's arguments
	Failed  []string
}

// render is the markdown section: a heading, the table, notes, the machine
// and the commands.
func (rp report) render() string {
	var b strings.Builder
	m := rp.Machine
	b.WriteString("## Summary\n\n")
	fmt.Fprintf(&b, "Measured %s with %s at commit %s: %s, %s.\n\n",
		m.Start.UTC().Format("2006-01-02 15:04 UTC"), invocation(rp.Args), code(m.Commit), rp.Mode, fmtDuration(m.End.Sub(m.Start)))
	b.WriteString(renderTable(rp.Rows))
	b.WriteString("\n")
	b.WriteString("Ratio is ctlimits ÷ the comparison, as speeds: above 1, ctlimits is faster. " +
		"CPU is user + sys; peak RSS is the largest resident set of the process and its children " +
		"(`getrusage`). Each row's step names its command below.\n\n")
	if len(rp.Failed) > 0 {
		fmt.Fprintf(&b, "**Failed steps: %s** (their logs are in the -work directory's `logs`).\n\n", strings.Join(rp.Failed, ", "))
	}
	b.WriteString("Machine: ")
	fmt.Fprintf(&b, "%s, %d cores, %s of memory, %s, %s. ", m.CPU, m.Cores, m.Memory, m.Kernel, m.Go)
	fmt.Fprintf(&b, "Load average (1, 5, 15 min) %s at the start, %s at the end", m.LoadStart, m.LoadEnd)
	if m.PSIStart != "" || m.PSIEnd != "" {
		fmt.Fprintf(&b, "; CPU pressure (`/proc/pressure/cpu`) %s at the start, %s at the end", orDash(m.PSIStart), orDash(m.PSIEnd))
	}
	b.WriteString(". The machine may be shared: the load says how busy it was.\n\n")
	b.WriteString("Commands, from the repository root (wall time, CPU, peak RSS; `go test` and `go run` include compiling):\n\n")
	for _, r := range rp.Records {
		fmt.Fprintf(&b, "- %s: `%s`", r.step, r.shell)
		var extra []string
		if r.timed {
			extra = append(extra, fmt.Sprintf("%s wall, %s CPU, peak RSS %s", fmtSeconds(r.res.wall), fmtSeconds(r.res.cpu()), fmtBytes(r.res.maxRSS)))
		}
		if r.failed {
			extra = append(extra, "failed: "+errorLine(r.res))
		}
		if r.note != "" {
			extra = append(extra, r.note)
		}
		if len(extra) > 0 {
			fmt.Fprintf(&b, " (%s)", cell(strings.Join(extra, "; ")))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// invocation is how the run was started, as a command.
func invocation(args []string) string {
	c := command{name: "go", args: append([]string{"run", "./cmd/ctbench"}, args...)}
	s := code(c.shell())
	switch strings.Join(args, " ") {
	case "":
		s += " (`make bench`)"
	case "-quick":
		s += " (`make bench-quick`)"
	}
	return s
}

var tableHeader = []string{"what", "measured", "compared with", "ratio", "target", "met?", "step"}

func renderTable(rows []Row) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(tableHeader, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---|", len(tableHeader)) + "\n")
	for _, r := range rows {
		cells := []string{r.What, r.Measured, r.Compared, r.Ratio, r.Target, r.Met, r.Step}
		for i, c := range cells {
			if c == "" {
				c = "—"
			}
			if i == len(cells)-1 && c != "—" {
				c = "`" + c + "`"
			}
			cells[i] = cell(c)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

// cell makes s safe inside a markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

func code(s string) string { return "`" + s + "`" }

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// The markers around the section ctbench writes in docs/benchmarks.md.
const (
	beginMarker = "<!-- ctbench:begin -->"
	endMarker   = "<!-- ctbench:end -->"
)

// replaceSection returns doc with the lines between the marker lines
// replaced by section; the markers and everything outside them are kept
// byte for byte.
func replaceSection(doc, section string) (string, error) {
	begin := markerLine(doc, beginMarker)
	end := markerLine(doc, endMarker)
	switch {
	case len(begin) == 0 || len(end) == 0:
		return "", fmt.Errorf("no %s ... %s markers: add them, each on its own line, where the generated summary goes", beginMarker, endMarker)
	case len(begin) > 1 || len(end) > 1:
		return "", fmt.Errorf("the %s and %s markers must each appear once", beginMarker, endMarker)
	case begin[0] > end[0]:
		return "", fmt.Errorf("%s comes after %s", beginMarker, endMarker)
	}
	// begin[0] and end[0] are the offsets of the marker lines' starts.
	afterBegin := begin[0] + len(beginMarker)
	if afterBegin < len(doc) && doc[afterBegin] == '\r' {
		afterBegin++
	}
	afterBegin++ // the newline (markerLine only finds complete lines)
	section = strings.TrimRight(section, "\n")
	return doc[:afterBegin] + "\n" + section + "\n\n" + doc[end[0]:], nil
}

// markerLine returns the offsets of the lines that are exactly marker
// (trailing spaces allowed), each followed by a newline or the end.
func markerLine(doc, marker string) []int {
	var offs []int
	off := 0
	for _, line := range strings.SplitAfter(doc, "\n") {
		if strings.TrimRight(line, " \t\r\n") == marker {
			offs = append(offs, off)
		}
		off += len(line)
	}
	return offs
}

// writeDocs replaces the marked section of the file at path, atomically
// (a temporary file in the same directory, renamed over it).
func writeDocs(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc := string(old)
	if !strings.HasSuffix(doc, "\n") {
		doc += "\n" // so the end marker is a complete line
	}
	updated, err := replaceSection(doc, section)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeAtomic(path, []byte(updated))
}

// writeAtomic replaces path durably (datadir's one write), keeping it
// in place if anything fails.
func writeAtomic(path string, data []byte) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	return datadir.ReplaceFile(path, data)
}

// Number formats.

// fmtRate is a per-second rate with three significant digits: 198k, 2.28M.
func fmtRate(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e5:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// fmtInt is n with thousands separators.
func fmtInt(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtCount is a size in words: 65,536; 1M; 100M; 4.7M.
func fmtCount(n int64) string {
	switch {
	case n >= 1e6 && n%1e6 == 0:
		return fmt.Sprintf("%dM", n/1e6)
	case n >= 1e6 && n%1e5 == 0:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3 && n%1e3 == 0 && n < 1e6:
		return fmt.Sprintf("%dk", n/1e3)
	default:
		return fmtInt(n)
	}
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

func fmtSeconds(d time.Duration) string {
	s := d.Seconds()
	if s < 10 {
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.1f s", s)
}

func fmtDuration(d time.Duration) string {
	s := int64(d.Round(time.Second).Seconds())
	if s < 60 {
		return fmt.Sprintf("%d s", s)
	}
	return fmt.Sprintf("%d min %02d s", s/60, s%60)
}

// fmtNs is a duration in nanoseconds: 523 ns, 5,798 ns, 106 µs.
func fmtNs(ns float64) string {
	if ns >= 1e5 {
		return fmt.Sprintf("%.0f µs", ns/1e3)
	}
	if ns >= 100 {
		return fmtInt(int64(math.Round(ns))) + " ns"
	}
	return fmt.Sprintf("%.1f ns", ns)
}

func fmtRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "—"
	}
	if r >= 10 {
		return fmt.Sprintf("%.1fx", r)
	}
	return fmt.Sprintf("%.2fx", r)
}

// met says whether a target is met: "yes" or "**no**".
func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
