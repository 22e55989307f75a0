-- decisions: the last `ctlimits replay --data` output, one row per
-- replayed order (see docs/schema.md), from every policy it replayed
-- under (Let's Encrypt staging is replayed apart from production; the
-- policy and issuer_group columns tell them apart). over_model marks certificates the
-- model says would have been limited: CT shows they were issued, so
-- something the model cannot see let them through (an override, ARI, or
-- concurrent orders racing the check-then-spend).
CREATE OR REPLACE VIEW decisions AS
{{- if .HasDecisions}}
SELECT *, decision = 'limited' AS over_model
FROM read_parquet({{list .DecisionFiles}}, hive_partitioning = false, union_by_name = true)
{{- else}}
SELECT CAST(NULL AS BIGINT) AS "order", CAST(NULL AS TIMESTAMP WITH TIME ZONE) AS issued_at,
       CAST(NULL AS VARCHAR) AS decision, CAST(NULL AS VARCHAR[]) AS limited_by,
       CAST(NULL AS TIMESTAMP WITH TIME ZONE) AS retry_after, CAST(NULL AS VARCHAR) AS message,
       CAST(NULL AS BOOLEAN) AS renewal, CAST(NULL AS BOOLEAN) AS ari,
       CAST(NULL AS VARCHAR[]) AS names, CAST(NULL AS VARCHAR[]) AS registered_domains,
       CAST(NULL AS VARCHAR) AS fqdn_set_hash, CAST(NULL AS BIGINT) AS min_tokens,
       CAST(NULL AS STRUCT(bucket VARCHAR, remaining BIGINT, burst BIGINT)[]) AS tokens,
       CAST(NULL AS VARCHAR) AS issuer, CAST(NULL AS VARCHAR) AS serial,
       CAST(NULL AS VARCHAR) AS issuer_group, CAST(NULL AS TIMESTAMP) AS not_before,
       CAST(NULL AS TIMESTAMP) AS not_after, CAST(NULL AS VARCHAR) AS policy,
       CAST(NULL AS BOOLEAN) AS over_model
WHERE false
{{- end}};
