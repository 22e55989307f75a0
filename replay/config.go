package replay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Boulder's rate-limit configuration files, read strictly: an unknown limit
// name or field is an error that names the line, as Boulder's strictyaml
// rejects it.
//
// Defaults (ratelimit-defaults.yml), a map of limit name to limit:
//
//	CertificatesPerDomain:
//	  burst: 50
//	  count: 50
//	  period: 168h
//
// Overrides, a list of one-key maps:
//
//	- CertificatesPerDomain:
//	    burst: 300
//	    count: 300
//	    period: 168h
//	    ids:
//	      - id: example.com
//	        comment: hosting provider

// boulderOnly are limits Boulder configures that CT cannot exercise
// (registrations, failed authorizations, the override form). They are
// accepted and validated so a real Boulder file loads, then ignored.
var boulderOnly = map[string]bool{
	"NewRegistrationsPerIPAddress":                      true,
	"NewRegistrationsPerIPv6Range":                      true,
	"FailedAuthorizationsPerDomainPerAccount":           true,
	"FailedAuthorizationsForPausingPerDomainPerAccount": true,
	"LimitOverrideRequestsPerIPAddress":                 true,
}

// ParseLimits reads a Boulder defaults file and returns the limits it sets;
// limits it does not mention are disabled, as in Boulder. source names the
// input in errors. Everything Boulder's loader refuses (strictyaml: an
// empty file, a second document, a duplicate key, an unknown field, a
// value of the wrong type) is refused too, with source:line.
func ParseLimits(data []byte, source string) ([numLimits]Limit, error) {
	var out [numLimits]Limit
	root, err := parseYAML(data, source)
	if err != nil {
		return out, err
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return out, boulderGate(data, source, &map[string]*boulderLimitConfig{}) // "---" alone: no defaults
	}
	if root.Kind != yaml.MappingNode {
		return out, fmt.Errorf("%s:%d: expected a map of limit names to limits", source, root.Line)
	}
	pairs, err := mapPairs(root, source)
	if err != nil {
		return out, err
	}
	for _, kv := range pairs {
		k, v := kv[0], kv[1]
		l, err := parseLimitNode(v, source, false)
		if err != nil {
			return out, fmt.Errorf("%s:%d: limit %s: %w", source, k.Line, k.Value, err)
		}
		if boulderOnly[k.Value] {
			continue
		}
		name, ok := ParseName(k.Value)
		if !ok || name == CertificatesPerDomainPerAccount {
			return out, fmt.Errorf("%s:%d: unknown default limit %q; ctlimits models CertificatesPerDomain, CertificatesPerFQDNSet and NewOrdersPerAccount", source, k.Line, k.Value)
		}
		out[name] = l.Limit
	}
	return out, boulderGate(data, source, &map[string]*boulderLimitConfig{})
}

// ParseOverrides reads a Boulder overrides file into p, as strictly as
// ParseLimits.
func (p *Policy) ParseOverrides(data []byte, source string) error {
	root, err := parseYAML(data, source)
	if err != nil {
		return err
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return boulderGate(data, source, &[]map[string]boulderOverride{})
	}
	if root.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s:%d: expected a list of overrides (- LimitName: {burst, count, period, ids})", source, root.Line)
	}
	// Check the whole file before changing p.
	type entry struct {
		name Name
		l    limitNode
	}
	var entries []entry
	for _, item := range root.Content {
		item = resolve(item)
		if item.Kind != yaml.MappingNode {
			return fmt.Errorf("%s:%d: each override is a map from a limit name to {burst, count, period, ids}", source, item.Line)
		}
		pairs, err := mapPairs(item, source)
		if err != nil {
			return err
		}
		// Boulder reads each item as a map, so one item may hold several
		// limits; each is one override.
		for _, kv := range pairs {
			k, v := kv[0], kv[1]
			l, err := parseLimitNode(v, source, true)
			if err != nil {
				return fmt.Errorf("%s:%d: override %s: %w", source, k.Line, k.Value, err)
			}
			if boulderOnly[k.Value] {
				continue
			}
			name, ok := ParseName(k.Value)
			if !ok {
				return fmt.Errorf("%s:%d: unknown limit %q in override", source, k.Line, k.Value)
			}
			if len(l.ids) == 0 {
				return fmt.Errorf("%s:%d: override %s has no ids", source, k.Line, k.Value)
			}
			entries = append(entries, entry{name, l})
		}
	}
	if err := boulderGate(data, source, &[]map[string]boulderOverride{}); err != nil {
		return err
	}
	for _, e := range entries {
		for _, id := range e.l.ids {
			if err := p.AddOverride(e.name, id.value, e.l.Limit); err != nil {
				return fmt.Errorf("%s:%d: %w", source, id.line, err)
			}
		}
	}
	return nil
}

type limitNode struct {
	Limit
	ids []struct {
		value string
		line  int
	}
}

// parseYAML returns the root of the file's one document. Like Boulder's
// strictyaml, an empty file (or one of comments only) and a second
// document are errors.
func parseYAML(data []byte, source string) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the file is empty; Boulder refuses an empty rate-limit file (write {} for no defaults, [] for no overrides)", source)
		}
		return nil, yamlError(source, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, fmt.Errorf("%s:%d: a second YAML document; a Boulder rate-limit file holds exactly one", source, extra.Line)
	case !errors.Is(err, io.EOF):
		return nil, yamlError(source, err)
	}
	if len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: doc.Line}, nil
	}
	return resolve(doc.Content[0]), nil
}

// resolve follows aliases (*anchor) to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// mapPairs returns a mapping's key/value pairs, refusing a key given twice
// (yaml.v3 refuses it when Boulder decodes into a map or struct) and merge
// keys, which ctlimits does not expand.
func mapPairs(n *yaml.Node, source string) ([][2]*yaml.Node, error) {
	seen := map[string]int{}
	pairs := make([][2]*yaml.Node, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s:%d: a key must be a plain name", source, k.Line)
		}
		if k.Tag == "!!merge" {
			return nil, fmt.Errorf("%s:%d: merge keys (<<) are not supported; write the fields out", source, k.Line)
		}
		if first, ok := seen[k.Value]; ok {
			return nil, fmt.Errorf("%s:%d: %q given twice (first at line %d); Boulder refuses duplicate keys", source, k.Line, k.Value, first)
		}
		seen[k.Value] = k.Line
		pairs = append(pairs, [2]*yaml.Node{k, v})
	}
	return pairs, nil
}

// yamlError turns a yaml.v3 error into source:line: message.
func yamlError(source string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = lineMessage(source, m)
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return errors.New(lineMessage(source, strings.TrimPrefix(err.Error(), "yaml: ")))
}

var yamlLine = regexp.MustCompile(`^line (\d+): `)

func lineMessage(source, m string) string {
	if loc := yamlLine.FindStringSubmatchIndex(m); loc != nil {
		return source + ":" + m[loc[2]:loc[3]] + ": " + m[loc[1]:]
	}
	return source + ": " + m
}

// The types Boulder's ratelimits package decodes its files into
// (LimitConfig, overrideYAML, config.Duration), field for field: the
// files are decoded into them once more with Boulder's strictyaml
// settings, so that anything Boulder's loader refuses is refused here
// even where the checks above do not look.
type boulderLimitConfig struct {
	Burst  int64
	Count  int64
	Period boulderDuration
}

type boulderOverride struct {
	boulderLimitConfig `yaml:",inline"`
	Ids                []struct {
		Id      string `yaml:"id"`
		Comment string `yaml:"comment,omitempty"`
	} `yaml:"ids"`
}

type boulderDuration struct{ time.Duration }

func (d *boulderDuration) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	dur, err := time.ParseDuration(s)
	d.Duration = dur
	return err
}

// boulderGate decodes data as Boulder's strictyaml.Unmarshal does.
func boulderGate(data []byte, source string, out any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return yamlError(source, err)
	}
	return nil
}

// intValue decodes a YAML integer as yaml.v3 does for Boulder's int64
// fields (1_000, 0x10 and 1e3 included), but refuses a fraction.
func intValue(v *yaml.Node) (int64, error) {
	var x int64
	if v.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("expected a number")
	}
	if v.Tag == "!!float" {
		// yaml.v3 would truncate it for Boulder; a fraction is a mistake.
		var f float64
		if v.Decode(&f) == nil && math.Abs(f) < 1<<63 {
			if f != math.Trunc(f) {
				return 0, fmt.Errorf("%s is not a whole number (Boulder would truncate it to %d)", v.Value, int64(f))
			}
			return int64(f), nil // 1e3, as yaml.v3 reads it for Boulder
		}
	}
	if err := v.Decode(&x); err != nil {
		return 0, fmt.Errorf("%q is not a whole number", v.Value)
	}
	return x, nil
}

func parseLimitNode(n *yaml.Node, source string, override bool) (limitNode, error) {
	var out limitNode
	if n.Kind != yaml.MappingNode {
		return out, fmt.Errorf("expected a map with burst, count and period")
	}
	pairs, err := mapPairs(n, source)
	if err != nil {
		return out, err
	}
	var burst, count int64
	var period time.Duration
	for _, kv := range pairs {
		k, v := kv[0], kv[1]
		var err error
		switch k.Value {
		case "burst":
			burst, err = intValue(v)
		case "count":
			count, err = intValue(v)
		case "period":
			if v.Kind != yaml.ScalarNode {
				err = fmt.Errorf("expected a duration like 168h")
			} else {
				period, err = time.ParseDuration(v.Value)
			}
		case "ids":
			if !override {
				return out, fmt.Errorf("line %d: ids belong in an overrides file, not in defaults", k.Line)
			}
			if v.Kind != yaml.SequenceNode {
				return out, fmt.Errorf("line %d: ids must be a list of {id, comment}", v.Line)
			}
			for _, e := range v.Content {
				e = resolve(e)
				if e.Kind != yaml.MappingNode {
					return out, fmt.Errorf("line %d: each id is a map {id, comment}", e.Line)
				}
				fields, err := mapPairs(e, source)
				if err != nil {
					return out, err
				}
				var id string
				for _, f := range fields {
					switch f[0].Value {
					case "id":
						if f[1].Kind != yaml.ScalarNode {
							return out, fmt.Errorf("line %d: id must be a name, an IP address or an account", f[1].Line)
						}
						id = f[1].Value
					case "comment":
					default:
						return out, fmt.Errorf("line %d: unknown field %q (expected id, comment)", f[0].Line, f[0].Value)
					}
				}
				if id == "" {
					return out, fmt.Errorf("line %d: empty id", e.Line)
				}
				out.ids = append(out.ids, struct {
					value string
					line  int
				}{id, e.Line})
			}
		default:
			return out, fmt.Errorf("line %d: unknown field %q (expected burst, count, period%s)", k.Line, k.Value, map[bool]string{true: ", ids"}[override])
		}
		if err != nil {
			return out, fmt.Errorf("line %d: %s: %w", v.Line, k.Value, err)
		}
	}
	l, err := NewLimit(burst, count, period)
	if err != nil {
		return out, fmt.Errorf("line %d: %w", n.Line, err)
	}
	out.Limit = l
	return out, nil
}
