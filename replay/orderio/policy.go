package orderio

import (
	"fmt"
	"os"

	"github.com/ctlimits/ctlimits/replay"
)

// LoadPolicy builds a policy from its name and, optionally, Boulder-format
// limits (defaults) and overrides YAML files, as `--policy`, `--limits`
// and `--overrides` name them. Limits replace the policy's limits and add
// "+limits" to its name, so decisions say they were not the stock ones.
func LoadPolicy(name, limitsPath, overridesPath string) (*replay.Policy, error) {
	p, err := replay.LookupPolicy(name)
	if err != nil {
		return nil, err
	}
	if limitsPath != "" {
		data, err := os.ReadFile(limitsPath)
		if err != nil {
			return nil, fmt.Errorf("couldn't read limits: %w", err)
		}
		if p.Limits, err = replay.ParseLimits(data, limitsPath); err != nil {
			return nil, err
		}
		p.Name += "+limits"
	}
	if overridesPath != "" {
		data, err := os.ReadFile(overridesPath)
		if err != nil {
			return nil, fmt.Errorf("couldn't read overrides: %w", err)
		}
		if err := p.ParseOverrides(data, overridesPath); err != nil {
			return nil, err
		}
	}
	return p, nil
}
