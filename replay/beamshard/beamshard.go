// Package beamshard runs the shards of 'ctlimits shard' on Apache Beam:
// the shard numbers are the elements, each replayed by a DoFn calling the
// same worker as 'ctlimits replay --data DATA --shard I/N' (replay/shard),
// and one last step publishes every shard's decisions as DATA's current
// decisions. It is its own Go module, so Beam's dependencies never enter
// ctlimits' go.mod; the worker code it calls is pure Go, so the pipeline
// binary builds with CGO_ENABLED=0 and runs on any Beam runner's Go
// harness (Prism in process for tests, Dataflow, Flink: docs/sharding.md).
//
// DATA must be a directory every worker sees at the same path (a shared
// file system: NFS, Filestore, EFS, a GCS or S3 FUSE mount); object-store
// paths (gs://, s3://) are not read directly.
package beamshard

import (
	"context"
	"fmt"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/ctlimits/ctlimits/replay/ctstream"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/replay/shard"
)

// Options are the replay's settings, as 'ctlimits replay' flags name
// them; they travel to the workers inside the DoFns (exported fields).
type Options struct {
	Data      string // --data: DATA, the same path on every worker
	Shards    int    // N of 'ctlimits shard --shards N'
	Issuers   string // --issuers: production, staging, other or all
	Policy    string // --policy (default letsencrypt)
	Limits    string // --limits FILE (on every worker)
	Overrides string // --overrides FILE (on every worker)
	AssumeARI bool   // --assume-ari
	// Explicit says the policy or its limits were chosen (staging then
	// replays under the same policy, as 'ctlimits replay' does).
	Explicit bool
	// Workers prepare orders in one DoFn call. Default GOMAXPROCS.
	Workers int
}

// job is the worker job the options describe, for shard i.
func (o Options) job(i int) (shard.Job, error) {
	issuers, policy := o.Issuers, o.Policy
	if issuers == "" {
		issuers = "production"
	}
	if policy == "" {
		policy = "letsencrypt"
	}
	p, err := orderio.LoadPolicy(policy, o.Limits, o.Overrides)
	if err != nil {
		return shard.Job{}, err
	}
	p.AssumeARI = o.AssumeARI
	streams, err := ctstream.Streams(issuers, p, o.Explicit)
	if err != nil {
		return shard.Job{}, err
	}
	return shard.Job{Data: o.Data, Shard: i, Shards: o.Shards, Streams: streams, Workers: o.Workers, NoPublish: true}, nil
}

// Result is one shard's outcome, per stream.
type Result struct {
	Shard   int
	Stream  string
	Orders  int64
	New     int64
	Renewal int64
	Limited int64
	ARI     int64
	Skipped int64
}

func (r Result) String() string {
	return fmt.Sprintf("shard %d %s: %d orders: %d new, %d renewal, %d limited (%d ARI), %d skipped",
		r.Shard, r.Stream, r.Orders, r.New, r.Renewal, r.Limited, r.ARI, r.Skipped)
}

// ReplayShardFn replays one shard per element: shard.Run, the worker of
// 'ctlimits replay --shard I/N', without publishing (PublishFn does, once).
type ReplayShardFn struct {
	Opts Options
}

// ProcessElement replays shard i and emits its results.
func (f *ReplayShardFn) ProcessElement(ctx context.Context, i int, emit func(Result)) error {
	job, err := f.Opts.job(i)
	if err != nil {
		return err
	}
	res, err := shard.Run(ctx, job)
	if err != nil {
		return fmt.Errorf("shard %d of %d: %w", i, f.Opts.Shards, err)
	}
	for _, s := range res.Streams {
		c := s.Counts
		emit(Result{Shard: i, Stream: s.Slug, Orders: c.Orders, New: c.New, Renewal: c.Renewal, Limited: c.Limited, ARI: c.ARI, Skipped: s.Skipped})
	}
	return nil
}

// PublishFn publishes every shard's decisions once all are replayed: its
// side input, the results, is complete only after every ReplayShardFn.
type PublishFn struct {
	Opts Options
}

// ProcessElement checks that every shard reported and publishes.
func (f *PublishFn) ProcessElement(ctx context.Context, _ []byte, results func(*Result) bool, emit func(string)) error {
	seen := map[int]bool{}
	var r Result
	for results(&r) {
		seen[r.Shard] = true
	}
	if len(seen) != f.Opts.Shards {
		return fmt.Errorf("%d of %d shards reported: not publishing", len(seen), f.Opts.Shards)
	}
	job, err := f.Opts.job(0)
	if err != nil {
		return err
	}
	gen, err := shard.Publish(ctx, job)
	if err != nil {
		return err
	}
	emit(gen)
	return nil
}

func init() {
	register.DoFn3x1[context.Context, int, func(Result), error](&ReplayShardFn{})
	register.DoFn4x1[context.Context, []byte, func(*Result) bool, func(string), error](&PublishFn{})
	register.Emitter1[Result]()
	register.Emitter1[string]()
	register.Iter1[Result]()
	beam.RegisterType(reflect.TypeOf((*Result)(nil)).Elem())
}

// Build adds the sharded replay to s: the shard numbers 0..N-1,
// reshuffled so a runner spreads them over its workers, each replayed by
// ReplayShardFn, then PublishFn. It returns the per-shard results and the
// published generation (one element: its directory).
func Build(s beam.Scope, o Options) (results, generation beam.PCollection) {
	s = s.Scope("ctlimits-shards")
	ids := make([]int, o.Shards)
	for i := range ids {
		ids[i] = i
	}
	shards := beam.Reshuffle(s, beam.CreateList(s, ids))
	results = beam.ParDo(s, &ReplayShardFn{Opts: o}, shards)
	generation = beam.ParDo(s, &PublishFn{Opts: o}, beam.Impulse(s), beam.SideInput{Input: results})
	return results, generation
}
