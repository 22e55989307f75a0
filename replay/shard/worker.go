package shard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ctlimits/ctlimits/replay/ctstream"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

// Job is one worker's replay of one shard.
type Job struct {
	// Data is the DATA directory holding shards/<Shards>/. Required.
	Data string
	// Shard (from 0) of Shards. Required.
	Shard, Shards int
	// Streams to replay (ctstream.Streams); each must be a set of issuer
	// groups (not a regular expression on issuers). Required.
	Streams []ctstream.Stream
	// Workers prepare orders in parallel. Default GOMAXPROCS.
	Workers int
	// Log receives progress lines; nil is quiet.
	Log io.Writer
	// Now names the decisions generation a publishing worker makes.
	// Default time.Now().
	Now time.Time
	// NoPublish leaves the decisions in the shards' directory even when
	// every shard is done (for a pipeline that publishes once, at its
	// end, with Publish).
	NoPublish bool
}

// StreamResult is what a worker did for one stream.
type StreamResult struct {
	ctstream.Stream
	Counts  orderio.Counts
	Skipped int64
	// File is the shard's decisions file.
	File string
}

// Result is what a worker did.
type Result struct {
	Streams []StreamResult
	// Done counts the shards whose decisions are written, this one
	// included (of Shards), over every stream.
	Done int
	// Generation is the decisions generation this worker published
	// ("" if it did not: shards remain, or another worker did).
	Generation string
}

// Run replays shard Job.Shard: it reads the shard's orders file, decides
// each stream's orders on one Replayer, writes the stream's decisions
// file, and, when every shard's files are there, publishes them all as
// DATA's current decisions (Publish).
func Run(ctx context.Context, job Job) (*Result, error) {
	if job.Now.IsZero() {
		job.Now = time.Now()
	}
	if len(job.Streams) == 0 {
		return nil, errors.New("shard: no streams to replay")
	}
	for _, st := range job.Streams {
		if _, ok := st.Groups(); !ok {
			return nil, fmt.Errorf("--shard replays --issuers production, staging, other or all, not %s: shards select certificates by issuer group, without SQL", st.Label)
		}
	}
	dd, err := datadir.Open(job.Data)
	if err != nil {
		return nil, err
	}
	dir := Dir(dd, job.Shards)
	m, err := ReadManifest(dir, job.Shards)
	if err != nil {
		return nil, err
	}
	if err := checkFresh(dd, m); err != nil {
		return nil, err
	}
	res := &Result{}
	for _, st := range job.Streams {
		sr, err := replayStream(ctx, job, dir, st)
		if err != nil {
			return nil, err
		}
		res.Streams = append(res.Streams, sr)
		logf(job.Log, "shard %d/%d: %s under %s: %s; %d over the model; %d skipped -> %s",
			job.Shard, job.Shards, st.Label, st.Policy.Name, sr.Counts, sr.Counts.Limited, sr.Skipped, sr.File)
	}
	done, err := doneShards(dir, job)
	if err != nil {
		return nil, err
	}
	res.Done = done
	if done < job.Shards || job.NoPublish {
		logf(job.Log, "shard %d/%d: %d of %d shards done", job.Shard, job.Shards, done, job.Shards)
		return res, nil
	}
	if res.Generation, err = Publish(ctx, job); err != nil {
		return nil, err
	}
	return res, nil
}

// checkFresh refuses shards made from other entries than DATA holds now.
// A worker that sees no entries at all (given the shards alone) trusts
// them.
func checkFresh(dd *datadir.Dir, m *Manifest) error {
	digest, files, err := EntriesDigest(dd)
	if err != nil {
		return err
	}
	if files > 0 && digest != m.EntriesDigest {
		return fmt.Errorf("the sharding in %s was made from %d entries files, but %s now has %d (or others): it is stale; run 'ctlimits shard --data %s --shards %d' again",
			Dir(dd, m.Shards), m.EntriesFiles, dd.Root, files, dd.Root, m.Shards)
	}
	return nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "ctlimits replay: "+format+"\n", args...)
	}
}

// key names a set of streams and policies: decisions under other
// policies (or issuers) go elsewhere, never mixed with these.
func key(streams []ctstream.Stream) string {
	h := sha256.New()
	for _, st := range streams {
		fmt.Fprintf(h, "%s\x00%s\x00%s\n", st.Slug, st.Policy.Name, st.Policy.Digest())
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// DecisionsFile is where worker i writes a stream's decisions.
func DecisionsFile(dir string, streams []ctstream.Stream, st ctstream.Stream, i int) string {
	return filepath.Join(dir, "decisions", key(streams), "policy="+datadir.SafeName(st.Policy.Name),
		datadir.SafeName(st.Slug)+"-shard-"+strconv.Itoa(i)+".parquet")
}

// lineColumn is the position column of the stream's orders: the same
// numbering the stream has in one replay of DATA.
func lineColumn(st ctstream.Stream) string {
	if groups, _ := st.Groups(); len(groups) > 1 {
		return "line_nonstaging"
	}
	return "line_group"
}

func replayStream(ctx context.Context, job Job, dir string, st ctstream.Stream) (StreamResult, error) {
	res := StreamResult{Stream: st, File: DecisionsFile(dir, job.Streams, st, job.Shard)}
	groups, _ := st.Groups()
	path := OrdersFile(dir, job.Shard)
	if _, err := os.Stat(path); err != nil {
		return res, fmt.Errorf("shard %d of %d: %w: run 'ctlimits shard --shards %d' again", job.Shard, job.Shards, err, job.Shards)
	}
	in, err := orderio.OpenCTOrders(path, groups, lineColumn(st))
	if err != nil {
		return res, err
	}
	defer in.Close()
	opt := orderio.Options{Workers: job.Workers, PositionFromLine: true,
		Skip: func(rec *orderio.Record, err error) {
			if res.Skipped++; res.Skipped <= 3 {
				logf(job.Log, "skipping certificate %s serial %s: %v", rec.Cert.Issuer, rec.Cert.Serial, err)
			}
		}}
	err = datadir.Write(res.File, func(w io.Writer) error {
		out, err := orderio.NewWriterWith("parquet", w, orderio.WriterOptions{CT: true, Policy: st.Policy.Name})
		if err != nil {
			return err
		}
		if res.Counts, err = orderio.Stream(ctx, in, st.Policy, out, opt); err != nil {
			return err
		}
		return out.Close()
	})
	return res, err
}

// doneShards counts the shards whose decisions files of every stream are
// written.
func doneShards(dir string, job Job) (int, error) {
	done := 0
	for i := range job.Shards {
		all := true
		for _, st := range job.Streams {
			if _, err := os.Stat(DecisionsFile(dir, job.Streams, st, i)); errors.Is(err, os.ErrNotExist) {
				all = false
			} else if err != nil {
				return 0, fmt.Errorf("couldn't look for shard %d's decisions: %w", i, err)
			}
		}
		if all {
			done++
		}
	}
	return done, nil
}

// published records, in a generation, which shards' decisions it holds.
type published struct {
	Key    string   `json:"key"`
	Shards int      `json:"shards"`
	Files  []string `json:"files"`
	Sizes  []int64  `json:"sizes"`
}

const publishedFile = "sharded.json"

// Publish makes every shard's decisions (of job's streams) DATA's current
// decisions, in one new generation holding links to them (sql/datadir:
// readers see the previous decisions or all of these, never a part). It
// takes DATA's decisions lock, waiting up to a minute for another worker
// publishing the same decisions. Publishing what is already current does
// nothing and returns "".
func Publish(ctx context.Context, job Job) (string, error) {
	if job.Now.IsZero() {
		job.Now = time.Now()
	}
	dd, err := datadir.Open(job.Data)
	if err != nil {
		return "", err
	}
	dir := Dir(dd, job.Shards)
	rec := published{Key: key(job.Streams), Shards: job.Shards}
	for _, st := range job.Streams {
		for i := range job.Shards {
			f := DecisionsFile(dir, job.Streams, st, i)
			info, err := os.Stat(f)
			if err != nil {
				return "", fmt.Errorf("couldn't publish the sharded decisions: shard %d of %s is missing (%w): run 'ctlimits replay --data %s --shard %d/%d'",
					i, st.Label, err, dd.Root, i, job.Shards)
			}
			rec.Files = append(rec.Files, f)
			rec.Sizes = append(rec.Sizes, info.Size())
		}
	}
	unlock, err := lockWait(ctx, dd)
	if err != nil {
		return "", err
	}
	defer unlock()
	want, _ := json.Marshal(rec)
	if _, cur, err := dd.CurrentGeneration(); err != nil {
		return "", err
	} else if cur != "" {
		if b, err := os.ReadFile(filepath.Join(cur, publishedFile)); err == nil && string(b) == string(want) {
			return "", nil // another worker published these
		}
	}
	if _, err := dd.SweepDecisions(); err != nil {
		return "", err
	}
	gen, err := dd.NewGeneration(job.Now)
	if err != nil {
		return "", err
	}
	defer gen.Abort()
	for _, st := range job.Streams {
		pdir, err := gen.PolicyDir(st.Policy.Name)
		if err != nil {
			return "", err
		}
		for i := range job.Shards {
			if err := gen.Keep(DecisionsFile(dir, job.Streams, st, i), pdir); err != nil {
				return "", err
			}
		}
	}
	if err := datadir.WriteFile(filepath.Join(gen.Root(), publishedFile), want); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := gen.Commit(); err != nil {
		return "", err
	}
	final := gen.FinalDir(gen.Root())
	logf(job.Log, "every shard of %d is done: their decisions are current in %s", job.Shards, final)
	return final, nil
}

// lockWait takes DATA's decisions lock, retrying while another process
// holds it (another worker publishing, or a replay), for up to a minute.
func lockWait(ctx context.Context, dd *datadir.Dir) (func(), error) {
	deadline := time.Now().Add(time.Minute)
	for {
		unlock, err := dd.Lock(datadir.DecisionsLock)
		if err == nil || !errors.Is(err, datadir.ErrLocked) {
			return unlock, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("couldn't publish the sharded decisions: another ctlimits process has held %s for a minute: %w; run 'ctlimits replay --data %s --shard I/N' for any shard again once it is done",
				dd.Path(datadir.DecisionsLock), err, dd.Root)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
