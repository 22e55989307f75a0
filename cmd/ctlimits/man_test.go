package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The checked-in page is what the binary generates: a command or flag
// changed without 'make man' fails here.
func TestManPageIsCheckedIn(t *testing.T) {
	want, err := os.ReadFile("../../docs/ctlimits.1")
	if err != nil {
		t.Fatalf("%v (run 'make man' to create it)", err)
	}
	code, got, stderr := run(t, "", "man")
	if code != exitOK {
		t.Fatalf("ctlimits man: exit %d: %s", code, stderr)
	}
	if got != string(want) {
		t.Fatalf("docs/ctlimits.1 differs from what 'ctlimits man' generates: run 'make man'")
	}
}

// The page must not depend on the machine that generates it (the default
// of replay --workers is the number of CPUs), or the test above fails on
// every other machine.
func TestManPageDoesNotDependOnTheMachine(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	runtime.GOMAXPROCS(prev + 3)
	a := manPage()
	runtime.GOMAXPROCS(1)
	b := manPage()
	if a != b {
		t.Fatal("the man page depends on GOMAXPROCS: add the flag to machineDefaults")
	}
}

func TestManPageDocumentsEveryCommandAndFlag(t *testing.T) {
	page := manPage()
	for _, n := range commandNames() {
		c := commands[n]
		if !strings.Contains(page, ".SS "+n+"\n") {
			t.Errorf("no section for command %s", n)
		}
		for _, f := range completionFlags(c) {
			for _, v := range envVars(c, f.name) {
				if !strings.Contains(page, v) {
					t.Errorf("%s --%s: the page does not name %s", n, f.name, v)
				}
			}
		}
	}
	for _, s := range []string{".SH EXIT STATUS", ".SH ENVIRONMENT", "HTTPS_PROXY", "NO_PROXY", "CTLIMITS_CPUPROFILE", ".SH FILES", ".SH SEE ALSO", "UNKNOWN"} {
		if !strings.Contains(page, s) {
			t.Errorf("the page lacks %q", s)
		}
	}
}

// FILES must list the DATA layout sql/datadir documents, entry by entry.
func TestManPageFilesFollowTheDatadirLayout(t *testing.T) {
	src, err := os.ReadFile("../../sql/datadir/datadir.go")
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(src), "//\tDATA/\n")
	if !ok {
		t.Fatal("sql/datadir/datadir.go: no DATA/ layout block in the package comment")
	}
	page := manPage()
	n := 0
	for _, line := range strings.Split(layout, "\n") {
		if !strings.HasPrefix(line, "//\t") {
			break
		}
		path := strings.Fields(strings.TrimPrefix(line, "//\t"))[0]
		path, _, _ = strings.Cut(path, "{") // reports/<time>/{run.json,...}
		path, _, _ = strings.Cut(path, "...")
		if !strings.Contains(page, roff(path)) {
			t.Errorf("FILES lacks %s (from sql/datadir's layout)", path)
		}
		n++
	}
	if n < 5 {
		t.Fatalf("read only %d layout lines from sql/datadir/datadir.go", n)
	}
}

func TestManPageSeeAlsoExists(t *testing.T) {
	for _, doc := range manSeeAlso {
		if _, err := os.Stat(filepath.Join("../../docs", doc)); err != nil {
			t.Errorf("SEE ALSO names docs/%s: %v", doc, err)
		}
	}
}

func TestRoffEscapes(t *testing.T) {
	for in, want := range map[string]string{
		`use --log-list or -o`: `use \-\-log\-list or \-o`,
		`a rate-limit`:         `a rate-limit`,
		`.starts with a dot`:   `\&.starts with a dot`,
		`back\slash`:           `back\eslash`,
	} {
		if got := roff(in); got != want {
			t.Errorf("roff(%q) = %q, want %q", in, got, want)
		}
	}
}
