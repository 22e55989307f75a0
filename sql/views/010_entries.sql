-- entries: one row per CT log entry ingested into DATA, from every
-- DATA/entries/log=<log id>/<first>-<last>.parquet file. Columns are
-- documented in docs/schema.md. Timestamps are UTC.
CREATE OR REPLACE VIEW entries AS
{{- if .HasEntries}}
SELECT log, idx, logged_at, entry_type, issuer, issuer_key_hash, serial,
       not_before, not_after, dns_names, ip_addresses, common_name,
       leaf_hash, parse_error
FROM read_parquet({{quote .EntriesGlob}}, hive_partitioning = false, union_by_name = true)
{{- else}}
-- No entries files yet: an empty view with the same columns, so queries
-- written for a full DATA directory still run.
SELECT CAST(NULL AS VARCHAR) AS log, CAST(NULL AS BIGINT) AS idx,
       CAST(NULL AS TIMESTAMP) AS logged_at, CAST(NULL AS VARCHAR) AS entry_type,
       CAST(NULL AS VARCHAR) AS issuer, CAST(NULL AS BLOB) AS issuer_key_hash,
       CAST(NULL AS VARCHAR) AS serial, CAST(NULL AS TIMESTAMP) AS not_before,
       CAST(NULL AS TIMESTAMP) AS not_after, CAST(NULL AS VARCHAR[]) AS dns_names,
       CAST(NULL AS VARCHAR[]) AS ip_addresses, CAST(NULL AS VARCHAR) AS common_name,
       CAST(NULL AS BLOB) AS leaf_hash, CAST(NULL AS VARCHAR) AS parse_error
WHERE false
{{- end}};
