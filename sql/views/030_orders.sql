-- orders: one per certificate, as the replay model sees it: names
-- normalized exactly as replay does (lowercased, one trailing dot
-- stripped, deduplicated, sorted, DNS names before IP addresses), the
-- exact-set hash, and the registered domains. Certificates with a name the
-- model rejects have NULL names, hash and domains and are not replayed.
-- profile is the certificate profile inferred from the lifetime and the
-- names (replay.InferProfile, docs/semantics.md "Profiles").
CREATE OR REPLACE VIEW orders AS
SELECT *, certificate_profile(not_before, not_after, len(names)) AS profile
FROM (
SELECT
  issuer, issuer_key_hash, serial, issuer_group, issued_at, not_before, not_after,
  normalize_names(names) AS names,
  fqdn_set_hash(names) AS fqdn_set_hash,
  registered_domains(names) AS registered_domains
FROM certificates);
