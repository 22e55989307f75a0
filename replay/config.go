package replay

import (
	"bytes"
	"fmt"
	"strconv"
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
// input in errors.
func ParseLimits(data []byte, source string) ([numLimits]Limit, error) {
	var out [numLimits]Limit
	root, err := parseYAML(data, source)
	if err != nil || root == nil {
		return out, err
	}
	if root.Kind != yaml.MappingNode {
		return out, fmt.Errorf("%s:%d: expected a map of limit names to limits", source, root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
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
	return out, nil
}

// ParseOverrides reads a Boulder overrides file into p.
func (p *Policy) ParseOverrides(data []byte, source string) error {
	root, err := parseYAML(data, source)
	if err != nil || root == nil {
		return err
	}
	if root.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s:%d: expected a list of overrides (- LimitName: {burst, count, period, ids})", source, root.Line)
	}
	for _, item := range root.Content {
		if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
			return fmt.Errorf("%s:%d: each override is a map with exactly one limit name", source, item.Line)
		}
		k, v := item.Content[0], item.Content[1]
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
		for _, id := range l.ids {
			if err := p.AddOverride(name, id.value, l.Limit); err != nil {
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

func parseYAML(data []byte, source string) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err.Error() == "EOF" {
			return nil, nil // an empty file sets nothing
		}
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

func parseLimitNode(n *yaml.Node, source string, override bool) (limitNode, error) {
	var out limitNode
	if n.Kind != yaml.MappingNode {
		return out, fmt.Errorf("expected a map with burst, count and period")
	}
	var burst, count int64
	var period time.Duration
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return out, fmt.Errorf("line %d: %s given twice", k.Line, k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "burst":
			burst, err = strconv.ParseInt(v.Value, 10, 64)
		case "count":
			count, err = strconv.ParseInt(v.Value, 10, 64)
		case "period":
			period, err = time.ParseDuration(v.Value)
		case "ids":
			if !override {
				return out, fmt.Errorf("line %d: ids belong in an overrides file, not in defaults", k.Line)
			}
			if v.Kind != yaml.SequenceNode {
				return out, fmt.Errorf("line %d: ids must be a list of {id, comment}", v.Line)
			}
			for _, e := range v.Content {
				var entry struct {
					ID      string `yaml:"id"`
					Comment string `yaml:"comment"`
				}
				if err := e.Decode(&entry); err != nil {
					return out, fmt.Errorf("line %d: %w", e.Line, err)
				}
				if err := strictKeys(e, "id", "comment"); err != nil {
					return out, err
				}
				if entry.ID == "" {
					return out, fmt.Errorf("line %d: empty id", e.Line)
				}
				out.ids = append(out.ids, struct {
					value string
					line  int
				}{entry.ID, e.Line})
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

func strictKeys(n *yaml.Node, allowed ...string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a map", n.Line)
	}
	for i := 0; i < len(n.Content); i += 2 {
		k := n.Content[i]
		ok := false
		for _, a := range allowed {
			ok = ok || k.Value == a
		}
		if !ok {
			return fmt.Errorf("line %d: unknown field %q", k.Line, k.Value)
		}
	}
	return nil
}
