-- 004: a rotation records the access token it issued (`replaced_jti`, `replaced_iat`), so that the same
-- refresh token used again within REFRESH_REUSE_GRACE_SECONDS (two tabs refreshing at once) gets the same
-- new pair instead of revoking the session. The new refresh token is derived from the old one (HMAC with the
-- signing key), so nothing is stored in clear.
ALTER TABLE refresh_tokens ADD COLUMN replaced_jti uuid, ADD COLUMN replaced_iat bigint;
