package ctreplay

import (
	"bufio"
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/replay/shard"
	"github.com/ctlimits/ctlimits/sql"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

// Sharding DATA for workers past one machine (replay/shard has the layout
// and the worker). Everything big stays in DuckDB, which spills to disk
// under its memory limit: the certificates (deduplicated by the
// certificates view), their registered domains, the graph joining the
// domains a certificate names, the components, and the sorted shard
// files. Go holds only one row at a time and a heap of N shard loads.
//
// Components: label propagation on the graph of registered domains (a
// star per certificate naming several), each domain starting with its
// own number, each round taking the smallest label among its neighbours
// and then its label's label (pointer jumping, so long chains close in
// few rounds), until no label changes: then every edge joins equal
// labels, and a label is a component. Certificates the model rejects
// (no registered domains) join no component: they are skipped by every
// replay, and spread over the shards by row.
//
// Assignment (the rule docs/sharding.md states): components sorted by
// size, biggest first; one with more certificates than total/N gets a
// shard of its own, which nothing else joins; every other goes to the
// open shard with the fewest certificates so far (ties to the lowest
// shard). So no shard exceeds max(the largest component, about total/N
// plus the smallest components).

// ShardConfig is one sharding of DATA.
type ShardConfig struct {
	// Data is the DATA directory. Required.
	Data string
	// Shards is N. Required.
	Shards int
	// MemoryLimit is DuckDB's memory_limit ("4GB"); DuckDB spills the
	// rest to a temporary directory inside DATA/shards. Default DuckDB's
	// own (80% of RAM).
	MemoryLimit string
	// Threads is DuckDB's threads. Default DuckDB's own (every core).
	Threads int
	// Log receives progress lines; nil is quiet.
	Log io.Writer
	// Now stamps the manifest. Default time.Now().
	Now time.Time
}

// Shard writes DATA/shards/<N>/: N orders files of whole components and
// the manifest, replacing an older sharding into N at once (a killed
// sharding leaves the older one as it was).
func Shard(ctx context.Context, cfg ShardConfig) (*shard.Manifest, error) {
	start := time.Now()
	if cfg.Shards < 1 {
		return nil, fmt.Errorf("--shards %d: want 1 or more", cfg.Shards)
	}
	if cfg.Now.IsZero() {
		cfg.Now = start
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "ctlimits shard: "+format+"\n", args...)
		}
	}
	dd, err := datadir.Open(cfg.Data)
	if err != nil {
		return nil, err
	}
	unlock, err := dd.Lock(shard.Lock)
	if err != nil {
		if errors.Is(err, datadir.ErrLocked) {
			return nil, fmt.Errorf("another ctlimits shard is writing shards in %s: %w", cfg.Data, err)
		}
		return nil, err
	}
	defer unlock()
	root := dd.Path("shards")
	if _, err := datadir.SweepTemp(root); err != nil {
		return nil, err
	}
	digest, files, err := shard.EntriesDigest(dd)
	if err != nil {
		return nil, err
	}
	final := shard.Dir(dd, cfg.Shards)
	stamp := strconv.Itoa(cfg.Shards) + "-" + strconv.FormatInt(cfg.Now.UnixNano(), 10)
	tmp := filepath.Join(root, "."+stamp+".tmp")
	// DuckDB's spill files, apart from the shards: DuckDB removes its own
	// files when it closes (and aborts the process if they are gone), so
	// the directory goes only after it closed. A crash leaves it hidden,
	// for the next sharding's SweepTemp.
	spill := filepath.Join(root, ".spill-"+stamp+".tmp")
	for _, d := range []string{tmp, spill} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return nil, fmt.Errorf("couldn't create %s: %w", d, err)
		}
		defer os.RemoveAll(d)
	}
	db, err := sql.Open(cfg.Data)
	if err != nil {
		return nil, err
	}
	defer db.Close() // before the removals above
	if !db.Params.HasEntries {
		return nil, fmt.Errorf("%w in %s: run 'ctlimits ingest --data %s --log LOG' first", ErrNoCertificates, cfg.Data, cfg.Data)
	}
	conn := db.DB()
	exec := func(what, q string, args ...any) error {
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			if strings.Contains(err.Error(), "Out of Memory") {
				return fmt.Errorf("couldn't %s within DuckDB's memory limit (%s): %w; raise --memory-limit, or leave it unset (80%% of RAM)", what, cmp.Or(cfg.MemoryLimit, "the default"), err)
			}
			return fmt.Errorf("couldn't %s: %w", what, db.Explain(err))
		}
		return nil
	}
	settings := []string{"SET temp_directory = " + sqlString(spill)}
	if cfg.MemoryLimit != "" {
		settings = append(settings, "SET memory_limit = "+sqlString(cfg.MemoryLimit))
	}
	if cfg.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", cfg.Threads))
	}
	for _, s := range settings {
		if err := exec("configure DuckDB ("+s+")", s); err != nil {
			return nil, err
		}
	}
	step := time.Now()
	// The certificates a replay of DATA reads (chunks.go reads NotBefore
	// ranges, so a certificate without one is in no replay), with their
	// registered domains as the model computes them, and their positions
	// in time order within each issuer group and among all non-staging
	// certificates: a stream's position numbering in one replay of DATA.
	if err := exec("deduplicate the certificates", `CREATE TEMP TABLE shard_certs AS
		SELECT issuer, serial, issuer_group, issued_at, not_before, not_after, names,
		       registered_domains(names) AS doms,
		       row_number() OVER (PARTITION BY issuer_group ORDER BY issued_at, issuer, serial) AS line_group,
		       CASE WHEN issuer_group <> 'letsencrypt-staging' THEN
		         row_number() OVER (PARTITION BY issuer_group = 'letsencrypt-staging' ORDER BY issued_at, issuer, serial) END AS line_nonstaging
		FROM certificates WHERE not_before IS NOT NULL`); err != nil {
		return nil, err
	}
	var total int64
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM shard_certs`).Scan(&total); err != nil {
		return nil, fmt.Errorf("couldn't count the certificates: %w", err)
	}
	logf("%d certificates deduplicated, with their registered domains, in %s", total, time.Since(step).Round(100*time.Millisecond))
	step = time.Now()
	for _, s := range []struct{ what, q string }{
		{"number the registered domains", `CREATE TEMP TABLE shard_doms AS
			SELECT d, (row_number() OVER (ORDER BY d))::BIGINT - 1 AS id FROM (SELECT DISTINCT unnest(doms) AS d FROM shard_certs)`},
		{"link certificates to domains", `CREATE TEMP TABLE shard_cd AS
			SELECT c.cid, d.id FROM (SELECT rowid AS cid, unnest(doms) AS d FROM shard_certs) c JOIN shard_doms d USING (d)`},
		{"find each certificate's first domain", `CREATE TEMP TABLE shard_first AS SELECT cid, min(id) AS a FROM shard_cd GROUP BY cid`},
		{"build the domain graph", `CREATE TEMP TABLE shard_edges AS
			SELECT DISTINCT f.a, cd.id AS b FROM shard_cd cd JOIN shard_first f USING (cid) WHERE cd.id <> f.a`},
		{"start the labels", `CREATE TEMP TABLE shard_label AS SELECT DISTINCT id, id AS l FROM (SELECT a AS id FROM shard_edges UNION ALL SELECT b FROM shard_edges)`},
	} {
		if err := exec(s.what, s.q); err != nil {
			return nil, err
		}
	}
	rounds := 0
	for {
		rounds++
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := exec("propagate labels", `CREATE OR REPLACE TEMP TABLE shard_next AS
			WITH m AS (
			  SELECT e.a AS id, l.l FROM shard_edges e JOIN shard_label l ON l.id = e.b
			  UNION ALL SELECT e.b, l.l FROM shard_edges e JOIN shard_label l ON l.id = e.a
			  UNION ALL SELECT id, l FROM shard_label),
			n AS (SELECT id, min(l) AS l FROM m GROUP BY id)
			SELECT n.id, least(n.l, j.l) AS l FROM n JOIN n j ON j.id = n.l`); err != nil {
			return nil, err
		}
		var changed int64
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM shard_next n JOIN shard_label l USING (id) WHERE n.l <> l.l`).Scan(&changed); err != nil {
			return nil, fmt.Errorf("couldn't propagate labels: %w", db.Explain(err))
		}
		if err := exec("propagate labels", `CREATE OR REPLACE TEMP TABLE shard_label AS SELECT * FROM shard_next`); err != nil {
			return nil, err
		}
		if changed == 0 {
			break
		}
	}
	// A certificate's component is its first domain's label (a domain in
	// no edge is its own).
	if err := exec("label the certificates", `CREATE TEMP TABLE shard_comp AS
		SELECT f.cid, coalesce(l.l, f.a) AS comp FROM shard_first f LEFT JOIN shard_label l ON l.id = f.a`); err != nil {
		return nil, err
	}
	logf("connected components of registered domains found in %d rounds, %s", rounds, time.Since(step).Round(100*time.Millisecond))
	step = time.Now()
	m := &shard.Manifest{Format: shard.ManifestFormat, Shards: cfg.Shards, EntriesDigest: digest, EntriesFiles: files,
		Certificates: total, Orders: make([]int64, cfg.Shards), Rounds: rounds, Created: cfg.Now.UTC()}
	assign := filepath.Join(spill, "assign.csv")
	if err := assignComponents(ctx, db, m, assign); err != nil {
		return nil, err
	}
	if err := exec("read the assignment", `CREATE TEMP TABLE shard_assign AS
		SELECT * FROM read_csv(`+sqlString(assign)+`, header = false, columns = {'comp': 'BIGINT', 'shard': 'INTEGER'})`); err != nil {
		return nil, err
	}
	if err := exec("assign the certificates", fmt.Sprintf(`CREATE TEMP TABLE shard_out AS
		SELECT c.* EXCLUDE (doms), coalesce(a.shard, (c.rowid %% %d)::INTEGER) AS shard
		FROM shard_certs c LEFT JOIN shard_comp cc ON cc.cid = c.rowid LEFT JOIN shard_assign a ON a.comp = cc.comp`, cfg.Shards)); err != nil {
		return nil, err
	}
	// The exact counts (certificates without domains are spread by row).
	srows, err := conn.QueryContext(ctx, `SELECT shard, count(*) FROM shard_out GROUP BY shard`)
	if err != nil {
		return nil, fmt.Errorf("couldn't count the shards: %w", db.Explain(err))
	}
	for srows.Next() {
		var i int
		var c int64
		if err := srows.Scan(&i, &c); err != nil {
			srows.Close()
			return nil, fmt.Errorf("couldn't count the shards: %w", err)
		}
		m.Orders[i] = c
	}
	srows.Close()
	if err := srows.Err(); err != nil {
		return nil, fmt.Errorf("couldn't count the shards: %w", err)
	}
	for _, s := range []string{"shard_certs", "shard_cd", "shard_first", "shard_edges", "shard_label", "shard_next", "shard_comp"} {
		if err := exec("free "+s, "DROP TABLE IF EXISTS "+s); err != nil {
			return nil, err
		}
	}
	logf("%d components on %d shards in %s: %v certificates (the largest component %d; shards of one giant component alone: %v)",
		m.Components, cfg.Shards, time.Since(step).Round(100*time.Millisecond), m.Orders, m.Largest, m.Own)
	step = time.Now()
	for i := range cfg.Shards {
		path := shard.OrdersFile(tmp, i)
		if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
			return nil, fmt.Errorf("couldn't create %s: %w", filepath.Dir(path), err)
		}
		// Written whole into the hidden directory, which is renamed into
		// place only when every file is complete and synced.
		if err := exec(fmt.Sprintf("write shard %d", i), fmt.Sprintf(`COPY (
			SELECT issued_at, names, not_before, not_after, issuer, serial, issuer_group, line_group, line_nonstaging
			FROM shard_out WHERE shard = %d ORDER BY issued_at, issuer, serial)
			TO %s (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072)`, i, sqlString(path))); err != nil {
			return nil, err
		}
	}
	logf("%d shard files written in %s", cfg.Shards, time.Since(step).Round(100*time.Millisecond))
	m.Seconds = time.Since(start).Seconds()
	if err := shard.WriteManifest(tmp, m); err != nil {
		return nil, err
	}
	if err := datadir.PutDir(tmp, final); err != nil {
		return nil, err
	}
	logf("sharding into %d written to %s in %s", cfg.Shards, final, time.Since(start).Round(100*time.Millisecond))
	return m, nil
}

// assignComponents streams the components, biggest first, onto the
// shards (the rule above) and writes the assignment, one "comp,shard" line
// each, to path; it fills m's counts.
func assignComponents(ctx context.Context, db *sql.DB, m *shard.Manifest, path string) error {
	var unassigned int64
	if err := db.DB().QueryRowContext(ctx, `SELECT count(*) FROM shard_certs c ANTI JOIN shard_comp cc ON cc.cid = c.rowid`).Scan(&unassigned); err != nil {
		return fmt.Errorf("couldn't count the certificates without registered domains: %w", db.Explain(err))
	}
	rows, err := db.DB().QueryContext(ctx, `SELECT comp, count(*) AS n FROM shard_comp GROUP BY comp ORDER BY n DESC, comp`)
	if err != nil {
		return fmt.Errorf("couldn't size the components: %w", db.Explain(err))
	}
	defer rows.Close()
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("couldn't write the assignment: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	n := m.Shards
	// The certificates without domains go to every shard by row: about
	// unassigned/n each, counted first so they weigh in the balance.
	loads := &shardHeap{}
	for i := range n {
		c := unassigned / int64(n)
		if int64(i) < unassigned%int64(n) {
			c++
		}
		m.Orders[i] = c
		*loads = append(*loads, shardLoad{i, c})
	}
	heap.Init(loads)
	giant := m.Certificates / int64(n)
	for rows.Next() {
		var comp, size int64
		if err := rows.Scan(&comp, &size); err != nil {
			return fmt.Errorf("couldn't size the components: %w", err)
		}
		m.Components++
		m.Largest = max(m.Largest, size)
		top := heap.Pop(loads).(shardLoad)
		s := top.shard
		m.Orders[s] += size
		if size > giant && loads.Len() > 0 {
			// Closed: its load is not pushed back. The last open shard
			// never closes (fewer than N components can exceed total/N).
			m.Own = append(m.Own, s)
		} else {
			top.load += size
			heap.Push(loads, top)
		}
		fmt.Fprintf(w, "%d,%d\n", comp, s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("couldn't size the components: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("couldn't write the assignment: %w", err)
	}
	return f.Close()
}

type shardLoad struct {
	shard int
	load  int64
}

// shardHeap pops the least loaded shard, the lowest on ties.
type shardHeap []shardLoad

func (h shardHeap) Len() int { return len(h) }
func (h shardHeap) Less(i, j int) bool {
	return h[i].load < h[j].load || h[i].load == h[j].load && h[i].shard < h[j].shard
}
func (h shardHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *shardHeap) Push(x any)   { *h = append(*h, x.(shardLoad)) }
func (h *shardHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// sqlString is an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
