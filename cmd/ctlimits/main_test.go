package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/pflag"
)

// run runs ctlimits in-process and returns its exit status and streams.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	code, _, stderr := run(t, "", "frobnicate")
	if code != exitUsage || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Fatalf("code %d stderr %q", code, stderr)
	}
}

func TestHelpListsCommands(t *testing.T) {
	code, stdout, _ := run(t, "", "--help")
	if code != exitOK || !strings.Contains(stdout, "replay") {
		t.Fatalf("code %d stdout %q", code, stdout)
	}
}

func TestEnvironmentSetsFlagsAndCommandLineWins(t *testing.T) {
	t.Setenv("CTLIMITS_POLICY", "no-such-policy")
	code, _, stderr := run(t, "", "replay", "--orders", "../../testdata/orders/sample.jsonl")
	if code != exitUsage || !strings.Contains(stderr, `unknown policy "no-such-policy"`) {
		t.Fatalf("code %d stderr %q", code, stderr)
	}
	code, _, stderr = run(t, "", "replay", "--orders", "../../testdata/orders/sample.jsonl", "--policy", "letsencrypt")
	if code != exitOK {
		t.Fatalf("code %d stderr %q", code, stderr)
	}
}

func TestCommandHelpPrintsOnceOnStdout(t *testing.T) {
	code, stdout, stderr := run(t, "", "replay", "--help")
	if code != exitOK || strings.Count(stdout, "Usage:") != 1 || stderr != "" {
		t.Fatalf("exit %d, %d usages on stdout, stderr %q", code, strings.Count(stdout, "Usage:"), stderr)
	}
}

func TestNoArgumentsIsAUsageErrorOnStderr(t *testing.T) {
	code, stdout, stderr := run(t, "")
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "Usage:") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and the usage on stderr", code, stdout, stderr)
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, stdout, stderr := run(t, "", args...)
		if code != exitOK || !strings.Contains(stdout, "Usage:") || stderr != "" {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q; want exit 0 and the usage on stdout", args, code, stdout, stderr)
		}
	}
}

func TestUnknownCommandSuggestsTheNearest(t *testing.T) {
	for typed, want := range map[string]string{
		"replya":  `ctlimits: unknown command "replya"; did you mean "replay"?`,
		"reprot":  `did you mean "report"?`,
		"ingets":  `did you mean "ingest"?`,
		"rep":     `did you mean "replay" or "report"?`,
		"complet": `did you mean "completion"?`,
	} {
		code, _, stderr := run(t, "", typed)
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and %q", typed, code, stderr, want)
		}
	}
	code, _, stderr := run(t, "", "frobnicate")
	if code != exitUsage || strings.Contains(stderr, "did you mean") {
		t.Errorf("frobnicate: exit %d, stderr %q; want no suggestion", code, stderr)
	}
}

func TestInterruptedCommandExits130(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := runMain(ctx, []string{"replay", "--orders", "../../testdata/orders/sample.jsonl"}, strings.NewReader(""), &out, &errb)
	if code != 130 || errb.String() != "ctlimits replay: interrupted\n" {
		t.Fatalf("exit %d, stderr %q; want 130 and \"ctlimits replay: interrupted\"", code, errb.String())
	}
}

func TestTerminatedCommandExits143(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(signalCause{syscall.SIGTERM})
	var out, errb bytes.Buffer
	code := runMain(ctx, []string{"replay", "--orders", "../../testdata/orders/sample.jsonl"}, strings.NewReader(""), &out, &errb)
	if code != 143 || errb.String() != "ctlimits replay: interrupted\n" {
		t.Fatalf("exit %d, stderr %q; want 143 and \"ctlimits replay: interrupted\"", code, errb.String())
	}
}

// The output-shaping variables must not leak from one command into
// another: CTLIMITS_FORMAT=html for reports must not change replay's
// output; CTLIMITS_REPLAY_FORMAT does.
func TestEnvFormatAndOutAreCommandSpecific(t *testing.T) {
	orders := "../../testdata/orders/sample.jsonl"
	t.Setenv("CTLIMITS_FORMAT", "html")
	t.Setenv("CTLIMITS_OUT", filepath.Join(t.TempDir(), "leaked"))
	code, stdout, stderr := run(t, "", "replay", "--orders", orders)
	if code != exitOK || !strings.HasPrefix(stdout, "  ORDER  ISSUED_AT") {
		t.Fatalf("generic CTLIMITS_FORMAT/CTLIMITS_OUT reached replay: exit %d, stderr %q, stdout %.80q", code, stderr, stdout)
	}
	t.Setenv("CTLIMITS_REPLAY_FORMAT", "jsonl")
	code, stdout, stderr = run(t, "", "replay", "--orders", orders, "--quiet")
	if code != exitOK || !strings.HasPrefix(stdout, "{") {
		t.Fatalf("CTLIMITS_REPLAY_FORMAT=jsonl: exit %d, stderr %q, stdout %.80q", code, stderr, stdout)
	}
	code, stdout, stderr = run(t, "", "replay", "--orders", orders, "--quiet", "--format", "csv")
	if code != exitOK || strings.HasPrefix(stdout, "{") || !strings.Contains(stdout, ",") {
		t.Fatalf("--format csv must win over CTLIMITS_REPLAY_FORMAT: exit %d, stderr %q, stdout %.80q", code, stderr, stdout)
	}
}

// A shared flag keeps its generic variable; the command's own variable
// wins over it.
func TestEnvCommandSpecificWinsOverGeneric(t *testing.T) {
	orders := "../../testdata/orders/sample.jsonl"
	t.Setenv("CTLIMITS_POLICY", "no-such-policy")
	t.Setenv("CTLIMITS_REPLAY_POLICY", "letsencrypt-2019")
	code, _, stderr := run(t, "", "replay", "--orders", orders, "--format", "jsonl", "-q")
	if code != exitOK {
		t.Fatalf("CTLIMITS_REPLAY_POLICY should win over CTLIMITS_POLICY: exit %d, stderr %q", code, stderr)
	}
	t.Setenv("CTLIMITS_REPLAY_POLICY", "also-no-such-policy")
	code, _, stderr = run(t, "", "replay", "--orders", orders)
	if code != exitUsage || !strings.Contains(stderr, "also-no-such-policy") || !strings.Contains(stderr, "CTLIMITS_REPLAY_POLICY") {
		t.Fatalf("exit %d, stderr %q; want a usage error naming the variable", code, stderr)
	}
}

// Every flag name several commands share must have been classified: set by
// the generic CTLIMITS_<FLAG> (sharedEnvFlags) because it means the same
// everywhere, or deliberately left to CTLIMITS_<COMMAND>_<FLAG>.
func TestEveryFlagSharedByCommandsIsClassified(t *testing.T) {
	deliberatelyPerCommand := map[string]string{
		"format": "its values differ per command",
		"out":    "it is one command's output",
		"domain": "replay restricts the replay to it; report reports on it; whatif projects its sets",
		// One run's question, not a standing setting for every command.
		"at":           "report's now for the headroom; whatif's start of the projection",
		"headroom":     "a sizing choice of one report or what-if",
		"from-scratch": "a one-off repair of replay's saved states; whatif only reads them",
	}
	users := map[string][]string{}
	for _, n := range commandNames() {
		newFlagSet(commands[n]).VisitAll(func(f *pflag.Flag) { users[f.Name] = append(users[f.Name], n) })
	}
	for name, cmds := range users {
		if len(cmds) > 1 && !sharedEnvFlags[name] && deliberatelyPerCommand[name] == "" {
			t.Errorf("--%s (in %v) is neither in sharedEnvFlags nor deliberately per command: decide whether CTLIMITS_%s may set it in all of them", name, cmds, envWord(name))
		}
	}
	for name := range sharedEnvFlags {
		if users[name] == nil {
			t.Errorf("sharedEnvFlags names --%s, which no command has", name)
		}
		if deliberatelyPerCommand[name] != "" {
			t.Errorf("--%s is both shared and per command", name)
		}
		// A generic name must not read as another command's variable.
		for _, n := range commandNames() {
			if strings.HasPrefix(envName(name), "CTLIMITS_"+envWord(n)+"_") {
				t.Errorf("%s reads as a variable of command %s", envName(name), n)
			}
		}
	}
}

// The demo must not ingest into a CTLIMITS_DATA meant for real work.
func TestDemoIgnoresGenericData(t *testing.T) {
	vars := envVars(commands["demo"], "data")
	if len(vars) != 1 || vars[0] != "CTLIMITS_DEMO_DATA" {
		t.Fatalf("demo --data is set by %v; want only CTLIMITS_DEMO_DATA", vars)
	}
}

func TestCommandHelpNamesTheVariables(t *testing.T) {
	code, stdout, _ := run(t, "", "report", "--help")
	if code != exitOK || !strings.Contains(stdout, "CTLIMITS_REPORT_FORMAT") || !strings.Contains(stdout, "CTLIMITS_REPORT_DATA, CTLIMITS_DATA") {
		t.Fatalf("exit %d, help %q", code, stdout)
	}
	if strings.Contains(stdout, "CTLIMITS_FORMAT") {
		t.Fatalf("report --help offers CTLIMITS_FORMAT:\n%s", stdout)
	}
}

// Every command's help ends its last line, flags or none (completion and
// man have none), so the shell prompt does not follow on the same line.
func TestEveryCommandHelpEndsWithANewline(t *testing.T) {
	for _, n := range commandNames() {
		code, stdout, _ := run(t, "", n, "--help")
		if code != exitOK || !strings.HasSuffix(stdout, "\n") {
			t.Errorf("%s --help: exit %d, output ends %q", n, code, stdout[max(0, len(stdout)-20):])
		}
	}
}
