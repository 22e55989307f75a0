// Command gen writes the sample log in testdata/ctlog (or, with -demo, the
// demo log in testdata/demolog): a static-ct-api tile
// directory of real test certificates and precertificates, signed by a test
// log key kept in log.json. Run it through `go generate ./ingest`.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
)

func main() {
	out := flag.String("out", "testdata/ctlog", "output directory (replaced)")
	n := flag.Int("n", 1000, "number of entries; 1000 is 3 full tiles and a partial one")
	demo := flag.Bool("demo", false, "write the demo log (ctlogtest.DemoPlan) instead")
	flag.Parse()
	l, err := ctlogtest.Generate(ctlogtest.Options{Entries: *n})
	if *demo {
		l, err = ctlogtest.FromPlan(ctlogtest.DemoPlan())
	}
	if err == nil {
		err = os.RemoveAll(*out)
	}
	if err == nil {
		err = l.Save(*out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
