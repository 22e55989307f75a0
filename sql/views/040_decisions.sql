-- decisions: the last `ctlimits replay --data` output, one row per
-- replayed order (see docs/schema.md), from every policy it replayed
-- under (Let's Encrypt staging is replayed apart from production; the
-- policy and issuer_group columns tell them apart). over_model marks certificates the
-- model says would have been limited: CT shows they were issued, so
-- something the model cannot see let them through (an override, ARI, or
-- concurrent orders racing the check-then-spend).
-- profile is inferred from the certificate (not_before, not_after,
-- names) by the same Go function as the orders view's: decision files do
-- not store it, so files written before profiles existed read the same.
-- Both select lists come from orderio's Arrow schema (see schema.go); its
-- timestamps, written with a UTC annotation, are cast to plain TIMESTAMP
-- so that date_trunc, strftime and ::DATE work without the ICU extension.
CREATE OR REPLACE VIEW decisions AS
{{- if .HasDecisions}}
SELECT *, certificate_profile(not_before, not_after, len(names)) AS profile
FROM (
SELECT {{.DecisionsColumns}},
       decision = 'limited' AS over_model
FROM read_parquet({{files .DecisionsFiles}}, hive_partitioning = false, union_by_name = true))
{{- else}}
SELECT {{.EmptyDecisions}},
       CAST(NULL AS BOOLEAN) AS over_model,
       CAST(NULL AS VARCHAR) AS profile
WHERE false
{{- end}};
