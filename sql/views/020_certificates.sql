-- certificates: one row per issued certificate, deduplicated across its
-- precertificate and final entries and across logs by (issuer, serial),
-- as RATE-LIMITS.md and Let's Encrypt's serials make unique. issued_at is
-- the earliest log timestamp of any of its entries (the precertificate's,
-- when logged): NotBefore is backdated by about an hour. Entries that
-- could not be parsed are left out here (they stay in entries).
CREATE OR REPLACE VIEW certificates AS
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
GROUP BY issuer, serial;
