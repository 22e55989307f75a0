// Package golden compares test output with golden files, for the tests of
// report and cmd/ctlimits (it is imported by tests only).
//
// On a mismatch Check fails the test with a unified line diff of the file
// against the output. Run the tests with -update to rewrite the files from
// the output instead, then review the change with git diff:
//
//	go test ./report/ ./cmd/ctlimits/ -update
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files from the output (see package golden)")

// Check compares got with the golden file at path: it fails t with a diff
// when they differ, or rewrites the file when the test runs with -update.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the output differs from %s (- file, + output; go test -update rewrites the file):\n%s", path, Diff(string(want), string(got)))
	}
}

// ctxLines is how many unchanged lines a hunk shows around a change, and
// maxLines how many lines a diff shows at most.
const (
	ctxLines = 3
	maxLines = 80
)

// Diff is a unified diff of the lines of a and b, "" when they are equal.
// Long lines are cut around their first difference with the line they
// replace.
func Diff(a, b string) string {
	if a == b {
		return ""
	}
	x, y := lines(a), lines(b)
	// Trim the common head and tail, so the quadratic part sees only the
	// changed middle.
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	ops := edits(x[pre:len(x)-suf], y[pre:len(y)-suf])
	// ops over the whole files: the common head and tail as equal lines.
	all := make([]op, 0, pre+len(ops)+suf)
	for i := range pre {
		all = append(all, op{kind: ' ', line: x[i]})
	}
	all = append(all, ops...)
	for i := len(x) - suf; i < len(x); i++ {
		all = append(all, op{kind: ' ', line: x[i]})
	}
	return hunks(all)
}

type op struct {
	kind byte // ' ', '-' or '+'
	line string
	at   int // a changed line's first byte that differs from its pair's
}

// edits is a shortest edit script from x to y (longest common
// subsequence); past a size where that costs too much it replaces x by y.
func edits(x, y []string) []op {
	var out []op
	if len(x)*len(y) > 4_000_000 {
		for _, l := range x {
			out = append(out, op{kind: '-', line: l})
		}
		for _, l := range y {
			out = append(out, op{kind: '+', line: l})
		}
		return out
	}
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out = append(out, op{kind: ' ', line: x[i]})
			i++
			j++
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			// Removals before additions, as diff prints them.
			out = append(out, op{kind: '-', line: x[i]})
			i++
		default:
			out = append(out, op{kind: '+', line: y[j]})
			j++
		}
	}
	return out
}

// hunks prints the changes of ops with context lines, "@@ -a,n +b,m @@"
// headers, and at most maxLines lines.
func hunks(ops []op) string {
	pair(ops)
	var sb strings.Builder
	shown := 0
	for start := 0; start < len(ops); {
		// The next change, and the hunk around it: extend while another
		// change is within 2*ctxLines unchanged lines.
		c := start
		for c < len(ops) && ops[c].kind == ' ' {
			c++
		}
		if c == len(ops) {
			break
		}
		lo := max(c-ctxLines, start)
		hi := c
		for same := 0; hi < len(ops) && same <= 2*ctxLines; hi++ {
			if ops[hi].kind == ' ' {
				same++
			} else {
				same = 0
			}
		}
		// Trailing context: at most ctxLines unchanged lines after the last
		// change.
		last := hi - 1
		for last > c && ops[last].kind == ' ' {
			last--
		}
		hi = min(last+1+ctxLines, len(ops))
		a, b := position(ops[:lo])
		n, m := position(ops[lo:hi])
		fmt.Fprintf(&sb, "@@ -%d,%d +%d,%d @@\n", a+1, n, b+1, m)
		for _, o := range ops[lo:hi] {
			if shown == maxLines {
				sb.WriteString("... (more differences)\n")
				return sb.String()
			}
			sb.WriteByte(o.kind)
			sb.WriteString(cut(o.line, o.at))
			sb.WriteByte('\n')
			shown++
		}
		start = hi
	}
	return sb.String()
}

// position counts the lines of the old and new file in ops.
func position(ops []op) (old, new int) {
	for _, o := range ops {
		if o.kind != '+' {
			old++
		}
		if o.kind != '-' {
			new++
		}
	}
	return old, new
}

// lines splits s into lines, marking a missing final newline as Git does.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	l := strings.SplitAfter(s, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	for i := range l {
		if strings.HasSuffix(l[i], "\n") {
			l[i] = strings.TrimSuffix(l[i], "\n")
		} else {
			l[i] += "\n\\ No newline at end of file"
		}
	}
	return l
}

// pair sets at for each run of removed lines followed by added ones: the
// k-th removed line and the k-th added one differ first at at.
func pair(ops []op) {
	for i := 0; i < len(ops); {
		if ops[i].kind != '-' {
			i++
			continue
		}
		j := i
		for j < len(ops) && ops[j].kind == '-' {
			j++
		}
		k := j
		for k < len(ops) && ops[k].kind == '+' {
			k++
		}
		for n := 0; n < j-i && n < k-j; n++ {
			a, b := ops[i+n].line, ops[j+n].line
			d := 0
			for d < len(a) && d < len(b) && a[d] == b[d] {
				d++
			}
			ops[i+n].at, ops[j+n].at = d, d
		}
		i = k
	}
}

// cut shortens a long line (an HTML chart is one line of kilobytes) to a
// window around at.
func cut(l string, at int) string {
	const before, most = 80, 240
	if len(l) <= most {
		return l
	}
	from := max(0, min(at-before, len(l)-most))
	to := min(len(l), from+most)
	out := l[from:to]
	if from > 0 {
		out = fmt.Sprintf("(%d bytes) ...", from) + out
	}
	if to < len(l) {
		out += fmt.Sprintf("... (%d more bytes)", len(l)-to)
	}
	return out
}
