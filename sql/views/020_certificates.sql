-- certificates: one row per issued certificate, deduplicated across its
-- precertificate and final entries and across logs by (issuer, serial),
-- as RATE-LIMITS.md and Let's Encrypt's serials make unique. issued_at is
-- the earliest log timestamp of any of its entries (the precertificate's,
-- when logged): NotBefore is backdated by about an hour. Entries that
-- could not be parsed are left out here (they stay in entries).
--
-- certificates_between(lo, hi, logged_from) is the same for the
-- certificates whose NotBefore is in [lo, hi), counting only entries
-- logged from logged_from on (NULL: unbounded). Every entry of a
-- certificate carries the same NotBefore, so a NotBefore range holds
-- whole certificates and deduplicates exactly on its own; the filters
-- reach the Parquet scan, whose row-group statistics skip the rest. The
-- replay reads history a NotBefore slice at a time, and what is new since
-- a saved state by logged_from (leaving out certificates with an earlier
-- entry itself).
CREATE OR REPLACE MACRO certificates_between(lo, hi, logged_from) AS TABLE
SELECT
  issuer,
  any_value(issuer_key_hash) AS issuer_key_hash,
  serial,
  issuer_group(issuer) AS issuer_group,
  min(logged_at) AS issued_at,
  min(not_before) AS not_before,
  min(not_after) AS not_after,
  arg_min(list_concat(list_concat(coalesce(dns_names, []), coalesce(ip_addresses, [])),
                      CASE WHEN common_name IS NULL OR common_name = '' THEN [] ELSE [common_name] END),
          logged_at) AS names,
  bool_or(entry_type = 'precert') AS precert,
  bool_or(entry_type = 'x509') AS final,
  list(DISTINCT log ORDER BY log) AS logs,
  count(*) AS entries
FROM entries
WHERE parse_error IS NULL AND serial IS NOT NULL AND issuer IS NOT NULL
  AND (lo IS NULL OR not_before >= lo) AND (hi IS NULL OR not_before < hi)
  AND (logged_from IS NULL OR logged_at >= logged_from)
GROUP BY issuer, serial;

CREATE OR REPLACE VIEW certificates AS
SELECT * FROM certificates_between(NULL, NULL, NULL);
