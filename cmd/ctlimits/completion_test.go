package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func completionScript(t *testing.T, shell string) string {
	t.Helper()
	code, out, stderr := run(t, "", "completion", shell)
	if code != exitOK || out == "" {
		t.Fatalf("completion %s: exit %d: %s", shell, code, stderr)
	}
	path := filepath.Join(t.TempDir(), "ctlimits."+shell)
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCompletionScriptsParse(t *testing.T) {
	for shell, check := range map[string][]string{
		"bash": {"bash", "-n"},
		"zsh":  {"zsh", "-n"},
		"fish": {"fish", "--no-execute"},
	} {
		t.Run(shell, func(t *testing.T) {
			if _, err := exec.LookPath(check[0]); err != nil {
				t.Skipf("%s is not installed", check[0])
			}
			path := completionScript(t, shell)
			if out, err := exec.Command(check[0], append(check[1:], path)...).CombinedOutput(); err != nil {
				t.Fatalf("%s %v: %v\n%s", check[0], check[1:], err, out)
			}
		})
	}
}

func TestCompletionUnknownShellIsAUsageError(t *testing.T) {
	code, _, stderr := run(t, "", "completion", "tcsh")
	if code != exitUsage || !strings.Contains(stderr, `unknown shell "tcsh"`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestBashCompletionCompletes sources the script in bash and asks it what
// it would offer after each command line, as bash itself would on TAB.
func TestBashCompletionCompletes(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	path := completionScript(t, "bash")
	for _, tc := range []struct {
		line string // the words; the last is the one being completed
		want []string
		not  []string
	}{
		{"ctlimits rep", []string{"replay", "report"}, []string{"run"}},
		{"ctlimits ", []string{"demo", "ingest", "man", "completion", "sql"}, nil},
		{"ctlimits replay --pol", []string{"--policy"}, nil},
		{"ctlimits replay --policy ", []string{"letsencrypt", "letsencrypt-2019", "letsencrypt-staging"}, nil},
		{"ctlimits replay --policy = letsencrypt-2", []string{"letsencrypt-2018", "letsencrypt-2019"}, []string{"letsencrypt"}},
		{"ctlimits replay --format ", []string{"table", "jsonl", "csv", "parquet"}, []string{"html"}},
		{"ctlimits report --format ", []string{"text", "markdown", "json", "csv", "html"}, []string{"jsonl"}},
		{"ctlimits whatif --format ", []string{"text", "markdown", "json"}, []string{"html"}},
		{"ctlimits whatif --profile ", []string{"classic", "tlsserver", "shortlived"}, []string{"unknown"}},
		{"ctlimits wha", []string{"whatif"}, nil},
		{"ctlimits replay --issuers ", []string{"production", "staging", "other", "all"}, nil},
		{"ctlimits ingest --protocol ", []string{"static", "rfc6962"}, nil},
		{"ctlimits report --", []string{"--data", "--format", "--out"}, []string{"--orders", "-o"}},
		{"ctlimits report -", []string{"--out", "-o"}, nil},
		{"ctlimits replay -o ", nil, []string{"table"}}, // a file name: bash's default completion
		{"ctlimits replay --quiet --", []string{"--orders", "--sort"}, nil},
		{"ctlimits completion ", []string{"bash", "zsh", "fish"}, nil},
		{"ctlimits help re", []string{"replay", "report"}, nil},
	} {
		words := strings.Split(tc.line, " ")
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		script := "source " + path + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\n" +
			"COMP_CWORD=" + strconv.Itoa(len(words)-1) + "\n_ctlimits\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
		out, err := exec.Command("bash", "--norc", "--noprofile", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tc.line, err, out)
		}
		got := strings.Fields(string(out))
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%q: completions %q lack %q", tc.line, got, w)
			}
		}
		for _, w := range tc.not {
			if slices.Contains(got, w) {
				t.Errorf("%q: completions %q offer %q", tc.line, got, w)
			}
		}
	}
}

// Every --format and every enumerated flag completes to values the flag's
// own help names, so the table in flagValues cannot drift from the flags.
func TestCompletionValuesMatchTheFlags(t *testing.T) {
	for _, n := range commandNames() {
		for _, f := range completionFlags(commands[n]) {
			if f.name == "format" && f.values == nil {
				t.Errorf("%s --format has no completion values: add them to flagValues", n)
			}
			var usage string
			newFlagSet(commands[n]).VisitAll(func(pf *pflag.Flag) {
				if pf.Name == f.name {
					usage = pf.Usage
				}
			})
			for _, v := range f.values {
				if f.name == "policy" && n == "report" {
					continue // report's help names no policy; replay's lists them
				}
				if !strings.Contains(usage, v) {
					t.Errorf("%s --%s completes %q, which its help (%q) does not name", n, f.name, v, usage)
				}
			}
		}
	}
}
