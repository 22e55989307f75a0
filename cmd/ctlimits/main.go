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
	"runtime/pprof"
	"sort"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile(os.Getenv("CTLIMITS_CPUPROFILE"), os.Stderr)
	code := runMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stopProfile()
	stop()
	os.Exit(code)
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
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 && args[0] == "help" {
			args = []string{args[1], "--help"}
		} else {
			printTopUsage(stdout)
			return exitOK
		}
	}
	if args[0] == "--version" || args[0] == "version" {
		fmt.Fprintln(stdout, "ctlimits", version())
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ctlimits: unknown command %q; run 'ctlimits --help' for the list\n", args[0])
		return exitUsage
	}
	fs := pflag.NewFlagSet("ctlimits "+c.name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	if c.setup != nil {
		c.setup(fs)
	}
	// pflag calls Usage itself on --help and on errors; both are handled
	// below (help on stdout, errors with a hint on stderr), so it is quiet.
	fs.Usage = func() {}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printCommandUsage(stdout, c, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "ctlimits %s: %v\nrun 'ctlimits %s --help' for usage\n", c.name, err, c.name)
		return exitUsage
	}
	if err := applyEnv(fs, os.LookupEnv); err != nil {
		fmt.Fprintf(stderr, "ctlimits %s: %v\n", c.name, err)
		return exitUsage
	}
	env := &cmdEnv{stdin: stdin, stdout: stdout, stderr: stderr, fs: fs}
	err := c.run(ctx, env, fs.Args())
	var ec exitCoder
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ec):
		if msg := err.Error(); msg != "" {
			fmt.Fprintf(stderr, "ctlimits %s: %s\n", c.name, msg)
		}
		return ec.ExitCode()
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "ctlimits %s: %v\nrun 'ctlimits %s --help' for usage\n", c.name, err, c.name)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "ctlimits %s: %v\n", c.name, err)
		return exitError
	}
}

// envName is the environment variable that sets a flag: CTLIMITS_ and the
// flag's name in upper case with dashes as underscores (--log-list is
// CTLIMITS_LOG_LIST).
func envName(flag string) string {
	return "CTLIMITS_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its
// environment variable, if set. The command line wins over the environment.
func applyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		v, ok := lookup(envName(f.Name))
		if !ok {
			return
		}
		if f.Value.Type() == "stringSlice" || f.Value.Type() == "stringArray" {
			// A list from the environment is comma separated, as on the
			// command line.
			for _, part := range strings.Split(v, ",") {
				if e := fs.Set(f.Name, strings.TrimSpace(part)); e != nil {
					err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
					return
				}
			}
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
		}
	})
	return err
}

func printTopUsage(w io.Writer) {
	fmt.Fprintf(w, "ctlimits replays Certificate Transparency issuance through Let's Encrypt's rate limits.\n\n")
	fmt.Fprintf(w, "Usage:\n  ctlimits <command> [flags] [args]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nEvery flag can also be set from the environment: --log-list is CTLIMITS_LOG_LIST.\n")
	fmt.Fprintf(w, "Run 'ctlimits <command> --help' for a command's flags.\n")
}

func printCommandUsage(w io.Writer, c *command, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  ctlimits %s %s\n\nFlags:\n%s", c.summary, c.name, c.usage, fs.FlagUsages())
	fmt.Fprintf(w, "\nEach flag can also be set as an environment variable, e.g. --%s as %s.\n",
		firstFlag(fs), envName(firstFlag(fs)))
}

func firstFlag(fs *pflag.FlagSet) string {
	name := "help"
	fs.VisitAll(func(f *pflag.Flag) {
		if name == "help" && f.Name != "help" {
			name = f.Name
		}
	})
	return name
}
