// Command beamshard replays the shards of 'ctlimits shard' on an Apache
// Beam runner, each shard as one element: Prism (in process, the
// default), Dataflow or Flink (docs/sharding.md has the flags).
//
//	ctlimits shard --data /shared/data --shards 64
//	beamshard --data /shared/data --shards 64 --issuers all --runner prism
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"github.com/ctlimits/ctlimits/replay/beamshard"
)

func main() {
	var o beamshard.Options
	flag.StringVar(&o.Data, "data", "", "the DATA directory, at the same path on every worker (shared file system)")
	flag.IntVar(&o.Shards, "shards", 0, "N of 'ctlimits shard --shards N'")
	flag.StringVar(&o.Issuers, "issuers", "production", "production, staging, other or all")
	flag.StringVar(&o.Policy, "policy", "letsencrypt", "rules to replay under")
	flag.StringVar(&o.Limits, "limits", "", "Boulder-format defaults YAML (a path every worker sees)")
	flag.StringVar(&o.Overrides, "overrides", "", "Boulder-format overrides YAML (a path every worker sees)")
	flag.BoolVar(&o.AssumeARI, "assume-ari", false, "as ctlimits replay --assume-ari")
	flag.IntVar(&o.Workers, "prepare-workers", 0, "goroutines preparing orders in each shard (default GOMAXPROCS)")
	flag.Parse()
	beam.Init() // a worker harness started by the runner takes over here
	o.Explicit = isSet("policy") || isSet("limits") || isSet("overrides")
	if o.Data == "" || o.Shards < 1 {
		fmt.Fprintln(os.Stderr, "beamshard: --data DIR and --shards N are required")
		os.Exit(2)
	}
	p, s := beam.NewPipelineWithRoot()
	beamshard.Build(s, o)
	if err := beamx.Run(context.Background(), p); err != nil {
		log.Fatalf("beamshard: %v", err)
	}
}

func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
