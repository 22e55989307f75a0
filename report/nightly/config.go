package nightly

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ctlimits/ctlimits/ingest"
	"github.com/ctlimits/ctlimits/replay"
)

// Config is the YAML configuration of the nightly job; docs/run.md
// documents every field. LoadConfig fills the defaults.
type Config struct {
	// Data is the data directory. Required.
	Data string `yaml:"data"`
	// Logs to follow, each a name from the log list or a URL. Required.
	Logs []Log `yaml:"logs"`
	// LogList is a log list v3 JSON file. Optional; default the embedded
	// snapshot.
	LogList string `yaml:"log_list"`
	// Contact goes into the User-Agent. Optional.
	Contact string `yaml:"contact"`
	// Policy, Limits, Overrides, Issuers and AssumeARI are as the replay
	// flags. Optional; defaults letsencrypt and production.
	Policy    string `yaml:"policy"`
	Limits    string `yaml:"limits"`
	Overrides string `yaml:"overrides"`
	Issuers   string `yaml:"issuers"`
	AssumeARI bool   `yaml:"assume_ari"`
	// StaleAfter: UNKNOWN when the newest certificate is older. Optional;
	// default 48h.
	StaleAfter Duration `yaml:"stale_after"`
	// Deadline bounds the whole run: past it the run stops and exits
	// UNKNOWN, so a hung log never keeps a cron job running into the next
	// night. Optional; default 6h.
	Deadline Duration `yaml:"deadline"`
	// MaxWait caps any single wait a log asks for (Retry-After): a log
	// asking for longer fails this run instead of holding it. Optional;
	// default ingest's (5m).
	MaxWait Duration `yaml:"max_wait"`
	// Watch lists the domains whose headroom decides the exit status.
	// Optional.
	Watch []Watch `yaml:"watch"`
	// Metrics is a Prometheus textfile to write. Optional (--metrics
	// wins).
	Metrics string `yaml:"metrics"`
}

// Log is one log to follow. In YAML a bare name is the short form.
type Log struct {
	Log      string `yaml:"log"`
	Key      string `yaml:"key"`
	Origin   string `yaml:"origin"`
	Protocol string `yaml:"protocol"`
	// From is where the log starts the first time it is ingested: an
	// entry index, or end-N for N entries before the end of its tree (a
	// first run on a live log then follows it from now on). Optional;
	// default 0.
	From string `yaml:"from"`
}

// UnmarshalYAML accepts a bare log name as well as the full form.
func (l *Log) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		l.Log = n.Value
		return nil
	}
	type plain Log
	return n.Decode((*plain)(l))
}

// Watch is a watched registered domain.
type Watch struct {
	Domain string `yaml:"domain"`
	// WarnTokens: WARN when fewer tokens are left. Optional; default 10.
	WarnTokens *int64 `yaml:"warn_tokens"`
}

// Duration is a time.Duration written as Go writes one ("48h").
type Duration time.Duration

// UnmarshalYAML parses "48h", "90m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v <= 0 {
		return fmt.Errorf("line %d: %q is not a positive duration (like 48h)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the run configuration: %w", err)
	}
	return ParseConfig(b, path)
}

// ParseConfig checks a configuration; name labels errors.
func ParseConfig(b []byte, name string) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty configuration (see docs/run.md)", name)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: more than one YAML document; a run configuration is one", name)
	}
	if c.Data == "" {
		return nil, fmt.Errorf("%s: no data directory (data: DIR)", name)
	}
	if len(c.Logs) == 0 {
		return nil, fmt.Errorf("%s: no logs to follow (logs: [NAME, ...]; 'ctlimits logs' lists them)", name)
	}
	for i, l := range c.Logs {
		if l.Log == "" {
			return nil, fmt.Errorf("%s: logs[%d] has no log", name, i)
		}
		if _, _, err := ingest.ParseFrom(l.From); err != nil {
			return nil, fmt.Errorf("%s: logs[%d]: %v", name, i, err)
		}
	}
	if c.Policy == "" {
		c.Policy = "letsencrypt"
	}
	if c.Issuers == "" {
		c.Issuers = "production"
	}
	if c.StaleAfter == 0 {
		c.StaleAfter = Duration(48 * time.Hour)
	}
	if c.Deadline == 0 {
		c.Deadline = Duration(6 * time.Hour)
	}
	for i, w := range c.Watch {
		d, err := replay.RegisteredDomain(w.Domain)
		if err != nil {
			return nil, fmt.Errorf("%s: watch[%d]: %v", name, i, err)
		}
		if d != strings.ToLower(strings.TrimSuffix(w.Domain, ".")) {
			return nil, fmt.Errorf("%s: watch[%d]: %s is not a registered domain (its registered domain is %s, whose bucket it shares)", name, i, w.Domain, d)
		}
		c.Watch[i].Domain = d
		if w.WarnTokens == nil {
			ten := int64(10)
			c.Watch[i].WarnTokens = &ten
		}
	}
	return &c, nil
}
