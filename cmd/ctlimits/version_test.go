package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func fakeBuildInfo(version string, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/ctlimits/ctlimits", Version: version}}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

func TestVersionFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		bi    *debug.BuildInfo
		short string
		line  string
	}{
		{fakeBuildInfo("v1.2.3"), "v1.2.3", "ctlimits v1.2.3 (go1.26.8)"},
		{fakeBuildInfo("(devel)", "vcs", "git", "vcs.revision", "b2a38a86d2ac525f02abc14c8d43cef3ca544e01",
			"vcs.time", "2026-03-01T12:00:00Z", "vcs.modified", "false"),
			"devel-b2a38a86d2ac", "ctlimits devel-b2a38a86d2ac (2026-03-01T12:00:00Z, go1.26.8)"},
		{fakeBuildInfo("(devel)", "vcs.revision", "b2a38a86d2ac525f02abc14c8d43cef3ca544e01",
			"vcs.time", "2026-03-01T12:00:00Z", "vcs.modified", "true"),
			"devel-b2a38a86d2ac+dirty", "ctlimits devel-b2a38a86d2ac+dirty (2026-03-01T12:00:00Z, go1.26.8)"},
		{fakeBuildInfo("(devel)"), "devel", "ctlimits devel (go1.26.8)"},
		{fakeBuildInfo(""), "devel", "ctlimits devel (go1.26.8)"},
		{nil, "devel", "ctlimits devel"},
	} {
		if got := versionOf(tc.bi); got != tc.short {
			t.Errorf("versionOf = %q, want %q", got, tc.short)
		}
		if got := versionLine(tc.bi); got != tc.line {
			t.Errorf("versionLine = %q, want %q", got, tc.line)
		}
	}
}

func TestVersionFlagPrintsGoVersion(t *testing.T) {
	code, stdout, _ := run(t, "", "--version")
	if code != exitOK || !strings.HasPrefix(stdout, "ctlimits ") || !strings.Contains(stdout, "go1.") {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
}
