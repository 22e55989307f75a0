package main

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// FuzzWhatifCadence: any --lifetime, --renew-at and --renew-every either
// make a cadence that validates or fail as a usage error; never a panic,
// never a lifetime or interval that is not positive.
func FuzzWhatifCadence(f *testing.F) {
	f.Add("45d", "2/3", "")
	f.Add("160h", "", "2d..3d")
	f.Add("1e400d", "0/0", "..")
	f.Add("-5d", "ari", "1d..")
	f.Add("NaNd", "NaN", "NaNd..Infd")
	f.Add("NaNd", "2/3", "")
	f.Fuzz(func(t *testing.T, lifetime, at, every string) {
		fs := pflag.NewFlagSet("whatif", pflag.ContinueOnError)
		commands["whatif"].setup(fs)
		fs.Set("lifetime", lifetime)
		fs.Set("renew-at", at)
		fs.Set("renew-every", every)
		c, err := cadenceFromFlags(fs)
		if err != nil {
			if _, ok := err.(usageError); !ok {
				t.Fatalf("not a usage error: %v", err)
			}
			return
		}
		if c.Lifetime <= 0 && lifetime != "" || c.EveryMin < 0 || c.EveryMax < c.EveryMin {
			t.Fatalf("%q %q %q: %+v", lifetime, at, every, c)
		}
		if err := c.Validate(); err == nil && (c.Lifetime >= 100*24*time.Hour || c.EveryMax >= c.Lifetime) {
			t.Fatalf("%+v validated", c)
		}
	})
}
