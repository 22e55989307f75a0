package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// On a full disk a replay fails with a message, never a panic, leaves no
// temporary decisions behind, and the decisions of the last replay stay
// readable. A small tmpfs makes the full disk (root only; skipped
// elsewhere).
func TestReplayOnAFullDisk(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	data := filepath.Join(t.TempDir(), "tiny")
	os.MkdirAll(data, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	defer exec.Command("umount", data).Run()
	if code, _, stderr := run(t, "", append([]string{"ingest", "--data", data, "--quiet"}, sampleArgs(t)...)...); code != exitOK {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "other", "--keep-days", "1"); code != exitOK {
		t.Fatalf("first replay: exit %d: %s", code, stderr)
	}
	before := queryInt(t, data, `SELECT count(*) FROM decisions`)
	// Fill the disk, then replay again (from scratch, so it writes).
	fill, _ := os.Create(filepath.Join(data, "fill"))
	buf := make([]byte, 64<<10)
	for {
		if _, err := fill.Write(buf); err != nil {
			break
		}
	}
	fill.Close()
	code, _, stderr := run(t, "", "replay", "--data", data, "--issuers", "other", "--from-scratch")
	if code != exitError || !strings.Contains(stderr, "no space left on device") || strings.Contains(stderr, "panic") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ents, _ := os.ReadDir(filepath.Join(data, "decisions"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary %s left in decisions/", e.Name())
		}
	}
	os.Remove(filepath.Join(data, "fill"))
	if n := queryInt(t, data, `SELECT count(*) FROM decisions`); n != before {
		t.Fatalf("%d decisions after the failed replay, %d before", n, before)
	}
}
