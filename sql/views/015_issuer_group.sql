-- issuer_group(issuer): which CA family an issuer name belongs to.
--   'letsencrypt-staging': the staging environment ("(STAGING) ..." names,
--                          and the older "Fake LE" intermediates);
--   'letsencrypt':         Let's Encrypt production, every intermediate
--                          (O=Let's Encrypt: R3, R10-R14, E5-E9, X1-X4, ...);
--   'other':               every other CA.
-- Issuer names are Go pkix.Name strings, e.g. CN=R10,O=Let's Encrypt,C=US.
CREATE OR REPLACE MACRO issuer_group(issuer) AS
  CASE
    WHEN issuer LIKE '%(STAGING)%' OR issuer LIKE '%Fake LE%' THEN 'letsencrypt-staging'
    WHEN issuer LIKE '%O=Let''s Encrypt%' THEN 'letsencrypt'
    ELSE 'other'
  END;
