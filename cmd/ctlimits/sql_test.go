package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// docQuery is an SQL example in the docs.
type docQuery struct {
	where  string // file:line
	query  string
	format string
}

// docQueries finds every SQL example in README.md and docs/*.md: ```sql
// blocks, and `ctlimits sql ... "QUERY"` commands in code blocks (with
// backslash continuations) and in inline code.
func docQueries(t *testing.T) []docQuery {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	files = append(files, filepath.Join("..", "..", "README.md"))
	inline := regexp.MustCompile("`([^`]*ctlimits sql [^`]*)`")
	var out []docQuery
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(file)
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			where := name + ":" + strconv.Itoa(i+1)
			if fence, ok := strings.CutPrefix(lines[i], "```"); ok {
				var block []string
				for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
					block = append(block, lines[i])
				}
				if strings.TrimSpace(fence) == "sql" {
					out = append(out, docQuery{where, strings.Join(block, "\n"), "csv"})
					continue
				}
				// Commands, with their continuation lines joined.
				text := strings.ReplaceAll(strings.Join(block, "\n"), "\\\n", " ")
				for _, cmd := range shellCommands(text) {
					if q, ok := sqlCommand(t, where, cmd); ok {
						out = append(out, q)
					}
				}
				continue
			}
			for _, m := range inline.FindAllStringSubmatch(lines[i], -1) {
				if q, ok := sqlCommand(t, where, shellCommands(m[1])[0]); ok {
					out = append(out, q)
				}
			}
		}
	}
	return out
}

// sqlCommand reads a `ctlimits sql` command line: its query (the one
// argument) and --format.
func sqlCommand(t *testing.T, where string, args []string) (docQuery, bool) {
	line := strings.Join(args, " ")
	for len(args) > 0 && !strings.HasSuffix(args[0], "ctlimits") {
		args = args[1:]
	}
	if len(args) < 2 || args[1] != "sql" || strings.Contains(line, "QUERY") {
		// Not ctlimits sql, or its synopsis.
		return docQuery{}, false
	}
	q := docQuery{where: where, format: "table"}
	var rest []string
	for i := 2; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--data" || a == "--format":
			if i+1 < len(args) && a == "--format" {
				q.format = args[i+1]
			}
			i++
		case strings.HasPrefix(a, "--format="):
			q.format = strings.TrimPrefix(a, "--format=")
		case strings.HasPrefix(a, "--data="):
		default:
			rest = append(rest, a)
		}
	}
	if len(rest) != 1 {
		t.Errorf("%s: a ctlimits sql command with %d arguments: %s", where, len(rest), line)
		return docQuery{}, false
	}
	q.query = rest[0]
	return q, true
}

// shellCommands splits command lines into words as a POSIX shell does for
// the quoting docs use: '...' and "..." (with \" and \\), spaces, # comments,
// and a newline outside quotes ending a command.
func shellCommands(s string) [][]string {
	var cmds [][]string
	var words []string
	var w strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '#' && !in:
			// A comment, to the end of the line.
			for i+1 < len(s) && s[i+1] != '\n' {
				i++
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				j = len(s) - i - 1
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				w.WriteByte(s[i])
			}
			in = true
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
			if c == '\n' && len(words) > 0 {
				cmds = append(cmds, words)
				words = nil
			}
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return append(cmds, words)
}

// TestSQLExamplesInTheDocsRun runs every SQL example in the docs with
// 'ctlimits sql' over the sample log, ingested and replayed.
func TestSQLExamplesInTheDocsRun(t *testing.T) {
	queries := docQueries(t)
	if len(queries) < 5 {
		t.Fatalf("found only %d SQL examples in the docs: %v", len(queries), queries)
	}
	data := ingestSample(t)
	if code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "other"); code != exitOK {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	for _, q := range queries {
		code, stdout, stderr := run(t, "", "sql", "--data", data, "--format", q.format, q.query)
		if code != exitOK || stdout == "" {
			t.Errorf("%s: exit %d: %s\n%s", q.where, code, stderr, q.query)
		}
	}
}

// TestSQLDamagedDecisionsWritesNothing: a damaged decisions file fails
// 'ctlimits sql' with its name and what to do, and nothing on stdout,
// whatever the format.
func TestSQLDamagedDecisionsWritesNothing(t *testing.T) {
	data := t.TempDir()
	bad := filepath.Join(data, "decisions", "policy=letsencrypt", "part-00000.parquet")
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"json", "csv", "table"} {
		code, stdout, stderr := run(t, "", "sql", "--data", data, "--format", f, "SELECT * FROM decisions")
		if code != exitError || stdout != "" || !strings.Contains(stderr, bad) || !strings.Contains(stderr, "ctlimits replay --data "+data) {
			t.Errorf("%s: exit %d, stdout %q, stderr %s", f, code, stdout, stderr)
		}
	}
}
