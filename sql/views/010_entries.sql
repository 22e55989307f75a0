-- entries: one row per CT log entry ingested into DATA, from every
-- DATA/entries/log=<log id>/<first>-<last>.parquet file. Columns are
-- documented in docs/schema.md; both select lists come from ingest's Arrow
-- schema (see schema.go). Timestamps are UTC.
CREATE OR REPLACE VIEW entries AS
{{- if .HasEntries}}
SELECT {{.EntriesColumns}}
FROM read_parquet({{files .EntriesFiles}}, hive_partitioning = false, union_by_name = true)
{{- else}}
-- No entries files yet: an empty view with the same columns, so queries
-- written for a full DATA directory still run.
SELECT {{.EmptyEntries}}
WHERE false
{{- end}};
