// Command ctlimits replays Certificate Transparency issuance history through
// Let's Encrypt's rate-limit model. See README.md and docs/ for the whole
// story; this file only wires subcommands, flags and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

// Exit statuses shared by every subcommand. `ctlimits run` adds its own
// monitoring statuses (see run.go); these are the ones everything else uses.
const (
	exitOK    = 0
	exitError = 1 // the work failed: bad input, I/O, verification
	exitUsage = 2 // the command line was wrong
)

// command is one subcommand. Each lives in its own file and registers itself
// from an init function, so adding a command touches no shared code.
type command struct {
	name    string
	summary string
	usage   string // argument synopsis after the command name
	// setup defines the command's flags.
	setup func(fs *pflag.FlagSet)
	// run does the work; args are the positional arguments left after flags.
	run func(ctx context.Context, env *cmdEnv, args []string) error
	// localFlags are flags that have a shared meaning elsewhere (see
	// sharedEnvFlags) but not in this command, so the generic CTLIMITS_<FLAG>
	// must not set them here; CTLIMITS_<COMMAND>_<FLAG> still does.
	localFlags []string
}

// cmdEnv is what a running command may touch: its streams, so tests can run
// commands in-process.
type cmdEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	fs             *pflag.FlagSet
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("ctlimits: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// usageError marks an error as the caller's fault on the command line, so it
// exits with exitUsage instead of exitError.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitCoder lets a command choose its own exit status (ctlimits run does).
type exitCoder interface{ ExitCode() int }

func main() {
	ctx, stop := notifyContext(context.Background())
	stopProfile := startProfile(os.Getenv("CTLIMITS_CPUPROFILE"), os.Stderr)
	code := runMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stopProfile()
	stop()
	os.Exit(code)
}

// signalCause is the cause of a context cancelled by a signal, so the exit
// status can tell SIGINT (130) from SIGTERM (143), as a shell would.
type signalCause struct{ sig os.Signal }

func (s signalCause) Error() string { return s.sig.String() + " signal received" }

// notifyContext is signal.NotifyContext for SIGINT and SIGTERM with a cause
// we can read back. After the first signal it stops catching them, so a
// second Ctrl-C kills a command that is slow to wind down.
func notifyContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch)
			cancel(signalCause{s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}

// exitInterrupted is the status of a command stopped by a signal: 128 plus
// the signal's number, 130 (SIGINT) when the cause is not a signal.
func exitInterrupted(ctx context.Context) int {
	var sc signalCause
	if errors.As(context.Cause(ctx), &sc) {
		if n, ok := sc.sig.(syscall.Signal); ok {
			return 128 + int(n)
		}
	}
	return 128 + int(syscall.SIGINT)
}

// startProfile writes a CPU profile of the whole run to path, if set
// (CTLIMITS_CPUPROFILE, for performance work: go tool pprof reads it). It
// returns the function that finishes the profile.
func startProfile(path string, stderr io.Writer) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ctlimits: CTLIMITS_CPUPROFILE=%s: %v (running without a profile)\n", path, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "ctlimits: CTLIMITS_CPUPROFILE=%s: %v\n", path, err)
		}
	}
}

// runMain is main without the process: it returns the exit status.
func runMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		// No command is a mistake, not a request for help: say so on
		// stderr and fail, so a script missing its arguments notices.
		printTopUsage(stderr)
		return exitUsage
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 && args[0] == "help" {
			args = []string{args[1], "--help"}
		} else {
			printTopUsage(stdout)
			return exitOK
		}
	}
	if args[0] == "--version" || args[0] == "version" {
		bi, _ := debug.ReadBuildInfo()
		fmt.Fprintln(stdout, versionLine(bi))
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		if s := suggest(args[0]); s != "" {
			fmt.Fprintf(stderr, "ctlimits: unknown command %q; did you mean %s?\n", args[0], s)
		} else {
			fmt.Fprintf(stderr, "ctlimits: unknown command %q; run 'ctlimits --help' for the list\n", args[0])
		}
		return exitUsage
	}
	fs := newFlagSet(c)
	fs.SetOutput(stderr)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printCommandUsage(stdout, c, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "ctlimits %s: %v\nrun 'ctlimits %s --help' for usage\n", c.name, err, c.name)
		return exitUsage
	}
	fromEnv, err := applyEnv(c, fs, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "ctlimits %s: %v\n", c.name, err)
		return exitUsage
	}
	env := &cmdEnv{stdin: stdin, stdout: stdout, stderr: stderr, fs: fs}
	err = c.run(ctx, env, fs.Args())
	var ec exitCoder
	switch {
	case err == nil:
		return exitOK
	case ctx.Err() != nil:
		// The command failed because it was stopped; its error ("context
		// canceled", or whatever a library made of it) says nothing more.
		fmt.Fprintf(stderr, "ctlimits %s: interrupted\n", c.name)
		return exitInterrupted(ctx)
	case errors.As(err, &ec):
		if msg := err.Error(); msg != "" {
			fmt.Fprintf(stderr, "ctlimits %s: %s\n", c.name, msg)
		}
		return ec.ExitCode()
	case errors.As(err, new(usageError)):
		note := ""
		if len(fromEnv) > 0 {
			note = " (set from the environment: " + strings.Join(fromEnv, ", ") + ")"
		}
		fmt.Fprintf(stderr, "ctlimits %s: %v%s\nrun 'ctlimits %s --help' for usage\n", c.name, err, note, c.name)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "ctlimits %s: %v\n", c.name, err)
		return exitError
	}
}

// newFlagSet is c's flags, as the command line, the help, the man page and
// the completion scripts all see them.
func newFlagSet(c *command) *pflag.FlagSet {
	fs := pflag.NewFlagSet("ctlimits "+c.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	if c.setup != nil {
		c.setup(fs)
	}
	// pflag calls Usage itself on --help and on errors; both are handled
	// by runMain (help on stdout, errors with a hint on stderr), so it is
	// quiet.
	fs.Usage = func() {}
	return fs
}

// sharedEnvFlags are the flags the generic variable CTLIMITS_<FLAG> sets, in
// every command that has them: each means the same thing wherever it
// appears (the data directory, the rules, how to reach logs, how much to
// say), so one setting in a crontab or a shell profile serves every
// command. Every other flag, and above all those that shape one command's
// output (--format, --out, whose values differ per command), is set only by
// CTLIMITS_<COMMAND>_<FLAG>: CTLIMITS_FORMAT=html for reports must not
// turn replay's output into HTML. A flag added under a name listed here
// must mean the same as everywhere else, or be listed in its command's
// localFlags.
var sharedEnvFlags = map[string]bool{
	"data":        true,
	"log-list":    true,
	"policy":      true,
	"limits":      true,
	"overrides":   true,
	"assume-ari":  true,
	"issuers":     true,
	"workers":     true,
	"contact":     true,
	"max-retries": true,
	"quiet":       true,
	"config":      true,
	"metrics":     true,
}

// envName is the generic environment variable of a flag: CTLIMITS_ and the
// flag's name in upper case with dashes as underscores (--log-list is
// CTLIMITS_LOG_LIST).
func envName(flag string) string {
	return "CTLIMITS_" + envWord(flag)
}

// commandEnvName is the variable that sets one command's flag:
// CTLIMITS_REPORT_FORMAT is report's --format.
func commandEnvName(cmd, flag string) string {
	return "CTLIMITS_" + envWord(cmd) + "_" + envWord(flag)
}

func envWord(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}

// envVars are the variables that set c's flag, the one that wins first.
func envVars(c *command, flag string) []string {
	vars := []string{commandEnvName(c.name, flag)}
	if sharedEnvFlags[flag] && !slices.Contains(c.localFlags, flag) {
		vars = append(vars, envName(flag))
	}
	return vars
}

// applyEnv sets every flag of c not given on the command line from the
// first of its environment variables that is set (envVars): the command
// line wins, then the command's own variable, then the generic one. It
// returns the variables it used, NAME=value, for error messages.
func applyEnv(c *command, fs *pflag.FlagSet, lookup func(string) (string, bool)) ([]string, error) {
	var used []string
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		var name, v string
		for _, n := range envVars(c, f.Name) {
			if val, ok := lookup(n); ok {
				name, v = n, val
				break
			}
		}
		if name == "" {
			return
		}
		used = append(used, name+"="+v)
		if f.Value.Type() == "stringSlice" || f.Value.Type() == "stringArray" {
			// A list from the environment is comma separated, as on the
			// command line.
			for _, part := range strings.Split(v, ",") {
				if e := fs.Set(f.Name, strings.TrimSpace(part)); e != nil {
					err = fmt.Errorf("%s=%q: %w", name, v, e)
					return
				}
			}
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("%s=%q: %w", name, v, e)
		}
	})
	return used, err
}

func printTopUsage(w io.Writer) {
	fmt.Fprintf(w, "ctlimits replays Certificate Transparency issuance through Let's Encrypt's rate limits.\n\n")
	fmt.Fprintf(w, "Usage:\n  ctlimits <command> [flags] [args]\n\nCommands:\n")
	width := 0
	for n := range commands {
		width = max(width, len(n))
	}
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	fmt.Fprintf(w, "\n%s\n", wrap(envSummary(), 78))
	fmt.Fprintf(w, "Run 'ctlimits <command> --help' for a command's flags, 'ctlimits man' for the manual.\n")
}

// envSummary is the environment rule in one paragraph, for the help and the
// manual.
func envSummary() string {
	return "Flags can also be set from the environment. CTLIMITS_<COMMAND>_<FLAG> sets one command's flag " +
		"(CTLIMITS_REPORT_FORMAT is report's --format); CTLIMITS_<FLAG> sets a flag that means the same in every " +
		"command having it: --" + strings.Join(sharedFlagNames(), ", --") + " (CTLIMITS_DATA is --data). " +
		"The command line wins, then the command's variable."
}

// sharedFlagNames are the flags of sharedEnvFlags, sorted.
func sharedFlagNames() []string {
	names := make([]string, 0, len(sharedEnvFlags))
	for n := range sharedEnvFlags {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func printCommandUsage(w io.Writer, c *command, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  ctlimits %s %s\n", c.summary, c.name, strings.TrimRight(c.usage, "\n"))
	if !fs.HasAvailableFlags() {
		return
	}
	fmt.Fprintf(w, "\nFlags:\n%s", fs.FlagUsages())
	fmt.Fprintf(w, "\nEnvironment (the command line wins, then the first variable set):\n")
	width := 0
	fs.VisitAll(func(f *pflag.Flag) { width = max(width, len(f.Name)) })
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			fmt.Fprintf(w, "  --%-*s  %s\n", width, f.Name, strings.Join(envVars(c, f.Name), ", "))
		}
	})
}

// wrap folds s into lines of at most width runes at spaces.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(s) {
		if i > 0 && n+1+len(word) > width {
			b.WriteByte('\n')
			n = 0
		} else if i > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}

// suggest names the commands an unknown one may have meant: those it is
// the start of ("replay" or "report" for "rep"), else the closest within
// two edits ("replay" for "replya"); "" when none is.
func suggest(typed string) string {
	names := append(commandNames(), "help", "version")
	var best []string
	if len(typed) >= 2 {
		for _, n := range names {
			if strings.HasPrefix(n, typed) {
				best = append(best, n)
			}
		}
	}
	if len(best) == 0 {
		bestD := 3
		for _, n := range names {
			switch d := editDistance(typed, n); {
			case d < bestD:
				best, bestD = []string{n}, d
			case d == bestD:
				best = append(best, n)
			}
		}
	}
	for i := range best {
		best[i] = strconv.Quote(best[i])
	}
	return strings.Join(best, " or ")
}

// editDistance is the Levenshtein distance between a and b, with a
// transposition of neighbours counting as one edit ("replya" is one edit
// from "replay"): the optimal string alignment distance.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
