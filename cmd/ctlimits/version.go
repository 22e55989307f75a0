package main

import (
	"fmt"
	"runtime/debug"
)

// version is the version the binary reports: in --version and in the
// User-Agent of every request to a CT log, so it is one token.
func version() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(bi)
}

// versionOf is the module version the binary was built from. A build from a
// source tree has no module version ("(devel)"), so it names the commit
// instead, from the VCS stamp the go command writes into the binary:
// devel-<12 hex digits of vcs.revision>, and "+dirty" when the tree had
// uncommitted changes (vcs.modified). Without a stamp (-buildvcs=false, or
// no repository) it is plain "devel".
func versionOf(bi *debug.BuildInfo) string {
	if bi == nil {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	s := buildSettings(bi)
	v := "devel"
	if rev := s["vcs.revision"]; rev != "" {
		v += "-" + rev[:min(12, len(rev))]
	}
	if s["vcs.modified"] == "true" {
		v += "+dirty"
	}
	return v
}

// versionLine is what --version prints: the version, and the commit time
// (for a development build) and the Go version it was built with.
func versionLine(bi *debug.BuildInfo) string {
	line := "ctlimits " + versionOf(bi)
	if bi == nil {
		return line
	}
	if t := buildSettings(bi)["vcs.time"]; t != "" && (bi.Main.Version == "" || bi.Main.Version == "(devel)") {
		return fmt.Sprintf("%s (%s, %s)", line, t, bi.GoVersion)
	}
	return fmt.Sprintf("%s (%s)", line, bi.GoVersion)
}

func buildSettings(bi *debug.BuildInfo) map[string]string {
	m := make(map[string]string, len(bi.Settings))
	for _, s := range bi.Settings {
		m[s.Key] = s.Value
	}
	return m
}
