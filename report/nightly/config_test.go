package nightly

import (
	"strings"
	"testing"
	"time"
)

var configTests = []struct {
	name, yaml, want string
}{
	{"a minimal configuration", "data: /d\nlogs: [sycamore2026h2]\n", ""},
	{"no data directory", "logs: [x]\n", "no data directory"},
	{"no logs", "data: /d\n", "no logs to follow"},
	{"an unknown field", "data: /d\nlogs: [x]\nwatchers: []\n", "field watchers not found"},
	{"a subdomain watched", "data: /d\nlogs: [x]\nwatch:\n  - domain: www.example.com\n", "www.example.com is not a registered domain"},
	{"a bad duration", "data: /d\nlogs: [x]\ndeadline: soon\n", `line 3: "soon" is not a positive duration`},
	{"a negative duration", "data: /d\nlogs: [x]\nstale_after: -1h\n", "not a positive duration"},
	{"two documents", "data: /d\nlogs: [x]\n---\ndata: /e\n", "more than one YAML document"},
	{"an empty file", "", "empty configuration"},
	{"a log without a name", "data: /d\nlogs:\n  - key: abc\n", "logs[0] has no log"},
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	for _, tt := range configTests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.yaml), "run.yml")
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Policy != "letsencrypt" || c.Issuers != "production" || time.Duration(c.StaleAfter) != 48*time.Hour || time.Duration(c.Deadline) != 6*time.Hour {
					t.Fatalf("defaults not filled: %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "run.yml") {
				t.Fatalf("got %v, want an error naming run.yml and saying %q", err, tt.want)
			}
		})
	}
}

// FuzzParseConfig: any input is a configuration or an error naming the
// file, never a panic; an accepted configuration has its required fields
// and defaults.
func FuzzParseConfig(f *testing.F) {
	for _, tt := range configTests {
		f.Add(tt.yaml)
	}
	f.Add("data: /d\nlogs:\n  - log: https://ct.example/\n    protocol: rfc6962\n    from: 12\nwatch:\n  - domain: example.com\n    warn_tokens: 3\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseConfig([]byte(in), "run.yml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "run.yml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if c.Data == "" || len(c.Logs) == 0 || c.StaleAfter <= 0 || c.Deadline <= 0 {
			t.Fatalf("accepted an incomplete configuration: %+v", c)
		}
		for _, w := range c.Watch {
			if w.WarnTokens == nil {
				t.Fatalf("watch %q without its default", w.Domain)
			}
		}
	})
}
