package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
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
