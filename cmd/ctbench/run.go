package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// command is one subprocess: what runs, where, and where its standard
// output goes.
type command struct {
	dir    string   // relative to the repository root; "" is the root
	env    []string // KEY=VALUE, added to ctbench's environment
	name   string
	shown  string // how name is shown, if not as name (a path relative to the root)
	args   []string
	stdout string // a file for standard output (shown as "> file"); "" captures it
	note   string // shown after the measurements, e.g. "not part of the pipeline"
}

// shell is the command as one would type it in the repository root.
func (c command) shell() string {
	var b strings.Builder
	if c.dir != "" {
		b.WriteString("cd " + shellQuote(c.dir) + " && ")
	}
	for _, e := range c.env {
		k, v, _ := strings.Cut(e, "=")
		b.WriteString(k + "=" + shellQuote(v) + " ")
	}
	if c.shown != "" {
		b.WriteString(shellQuote(c.shown))
	} else {
		b.WriteString(shellQuote(c.name))
	}
	for _, a := range c.args {
		b.WriteString(" " + shellQuote(a))
	}
	if c.stdout != "" {
		b.WriteString(" > " + shellQuote(c.stdout))
	}
	return b.String()
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=,@+%-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// result is a finished subprocess: its times, from the kernel's rusage of
// the process and of the children it waited for, and its output.
type result struct {
	wall      time.Duration
	user, sys time.Duration
	maxRSS    int64 // bytes, the largest of the process and its children
	stdout    string
	stderr    string
	err       error
}

func (r result) cpu() time.Duration { return r.user + r.sys }

// record is a command as the report lists it.
type record struct {
	step   string
	shell  string
	res    result
	timed  bool   // res holds measurements
	note   string // e.g. "cached: generated on 2026-11-23"
	failed bool
}

// runner runs the subprocesses of one ctbench run and keeps their records.
type runner struct {
	root    string    // repository root
	logDir  string    // each step's output, for reading after a failure
	log     io.Writer // progress (stderr)
	verbose bool      // copy subprocess output to log
	records []record
}

// run runs c for step and records it.
func (r *runner) run(step string, c command) result {
	rec := record{step: step, shell: c.shell(), note: c.note, timed: true}
	fmt.Fprintf(r.log, "ctbench: %s: %s\n", step, rec.shell)
	res := r.exec(step, c)
	rec.res = res
	rec.failed = res.err != nil
	r.records = append(r.records, rec)
	if res.err != nil {
		fmt.Fprintf(r.log, "ctbench: %s: failed after %.1f s: %s\n", step, res.wall.Seconds(), errorLine(res))
	} else {
		fmt.Fprintf(r.log, "ctbench: %s: %.1f s wall, %.1f s CPU, peak RSS %s\n", step, res.wall.Seconds(), res.cpu().Seconds(), fmtBytes(res.maxRSS))
	}
	return res
}

// note records a command that was not run (a cached result, say).
func (r *runner) note(step, shell, note string) {
	r.records = append(r.records, record{step: step, shell: shell, note: note})
	fmt.Fprintf(r.log, "ctbench: %s: %s (%s)\n", step, shell, note)
}

func (r *runner) logFile(step string) io.WriteCloser {
	if r.logDir == "" {
		return nopCloser{io.Discard}
	}
	f, err := os.OpenFile(filepath.Join(r.logDir, step+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nopCloser{io.Discard}
	}
	return f
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func (r *runner) cmd(c command) *exec.Cmd {
	cmd := exec.Command(c.name, c.args...)
	cmd.Dir = filepath.Join(r.root, c.dir)
	cmd.Env = append(os.Environ(), c.env...)
	return cmd
}

func (r *runner) exec(step string, c command) result {
	lf := r.logFile(step)
	defer lf.Close()
	fmt.Fprintf(lf, "$ %s\n", c.shell())
	var stdout, stderr bytes.Buffer
	outs := []io.Writer{&stderr, lf}
	if r.verbose {
		outs = append(outs, r.log)
	}
	cmd := r.cmd(c)
	cmd.Stderr = io.MultiWriter(outs...)
	var res result
	if c.stdout != "" {
		f, err := os.Create(absTo(r.root, c.stdout))
		if err != nil {
			res.err = err
			return res
		}
		defer f.Close()
		cmd.Stdout = f
	} else {
		outs[0] = &stdout
		cmd.Stdout = io.MultiWriter(outs...)
	}
	t0 := time.Now()
	res.err = cmd.Run()
	res.wall = time.Since(t0)
	res.stdout, res.stderr = stdout.String(), stderr.String()
	res.setUsage(cmd.ProcessState)
	fmt.Fprintf(lf, "# exit: %v; %.1f s wall\n", res.err, res.wall.Seconds())
	return res
}

func (res *result) setUsage(ps *os.ProcessState) {
	if ps == nil {
		return
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		res.user = time.Duration(ru.Utime.Nano())
		res.sys = time.Duration(ru.Stime.Nano())
		res.maxRSS = ru.Maxrss * 1024 // KB on Linux
	}
}

// pipe runs `from | to`, the two connected by a pipe, and returns both
// results; to's wall time runs from its start to its exit.
func (r *runner) pipe(step string, from, to command) (fromRes, toRes result) {
	shell := from.shell() + " | " + to.shell()
	fmt.Fprintf(r.log, "ctbench: %s: %s\n", step, shell)
	lf := r.logFile(step)
	defer lf.Close()
	fmt.Fprintf(lf, "$ %s\n", shell)
	var fromErr, toOut, toErr bytes.Buffer
	a, b := r.cmd(from), r.cmd(to)
	a.Stderr = io.MultiWriter(&fromErr, lf)
	b.Stderr = io.MultiWriter(&toErr, lf)
	if to.stdout != "" {
		f, err := os.Create(absTo(r.root, to.stdout))
		if err != nil {
			toRes.err = err
			return
		}
		defer f.Close()
		b.Stdout = f
	} else {
		b.Stdout = io.MultiWriter(&toOut, lf)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		toRes.err = err
		return
	}
	a.Stdout, b.Stdin = pw, pr
	t0 := time.Now()
	if err := b.Start(); err != nil {
		pr.Close()
		pw.Close()
		toRes.err = err
		return
	}
	pr.Close()
	if err := a.Start(); err != nil {
		pw.Close()
		fromRes.err = err
		b.Wait()
		return
	}
	pw.Close()
	ta := time.Now()
	fromRes.err = a.Wait()
	fromRes.wall = time.Since(ta)
	toRes.err = b.Wait()
	toRes.wall = time.Since(t0)
	fromRes.setUsage(a.ProcessState)
	toRes.setUsage(b.ProcessState)
	fromRes.stderr = fromErr.String()
	toRes.stdout, toRes.stderr = toOut.String(), toErr.String()
	fmt.Fprintf(lf, "# exit: %v | %v; %.1f s wall\n", fromRes.err, toRes.err, toRes.wall.Seconds())

	rec := record{step: step, shell: shell, res: toRes, timed: true, note: to.note,
		failed: fromRes.err != nil || toRes.err != nil}
	r.records = append(r.records, rec)
	if rec.failed {
		fmt.Fprintf(r.log, "ctbench: %s: failed: %s | %s\n", step, errorLine(fromRes), errorLine(toRes))
	} else {
		fmt.Fprintf(r.log, "ctbench: %s: %.1f s wall, %.1f s CPU, peak RSS %s (the right-hand side)\n", step, toRes.wall.Seconds(), toRes.cpu().Seconds(), fmtBytes(toRes.maxRSS))
	}
	return fromRes, toRes
}

func absTo(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

// errorLine is the first line that says what went wrong with a failed
// command: a panic, a test failure or a log.Fatal line, else the first
// line of its standard error, else the exit status.
func errorLine(res result) string {
	if res.err == nil {
		return ""
	}
	var exit *exec.ExitError
	status := res.err.Error()
	if !errors.As(res.err, &exit) {
		return status // it did not start
	}
	all := res.stderr + "\n" + res.stdout
	for _, l := range strings.Split(all, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "panic:") || strings.HasPrefix(t, "fatal error:") {
			return t
		}
	}
	lines := strings.Split(all, "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "--- FAIL") {
			// The reason is the next line (b.Fatal's message).
			if i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
				return t + ": " + strings.TrimSpace(lines[i+1])
			}
			return t
		}
	}
	for _, l := range strings.Split(res.stderr, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "go: downloading") || strings.HasPrefix(t, "#") {
			continue
		}
		return t
	}
	return status
}
