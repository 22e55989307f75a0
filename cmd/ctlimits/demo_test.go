package main

import (
	"strings"
	"testing"
)

func TestDemoRunsTheWholePipelineOffline(t *testing.T) {
	code, stdout, stderr := run(t, "", "demo", "--log-dir", "../../testdata/demolog")
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	for _, want := range []string{
		"verified against tree size 722",
		"Let's Encrypt production and other CAs under letsencrypt: 433 orders: 255 new, 150 renewal, 28 limited",
		"Let's Encrypt staging under letsencrypt-staging: 40 orders",
		`too many certificates (50) already issued for "hosting.example"`,
		"this exact set of identifiers",
		"hosting.example: request the 300 per week tier",
		"$ ctlimits whatif --issuers all --lifetime 45d --renew-at 2/3",
		"No limit bites in 12 weeks. Closest: CertificatesPerDomain, down to 28 of 50 tokens.",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

func TestDemoWithoutTheSampleSaysWhereToRunIt(t *testing.T) {
	code, _, stderr := run(t, "", "demo", "--log-dir", t.TempDir())
	if code != exitError || !strings.Contains(stderr, "run from the repository root, or give --log-dir") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}
