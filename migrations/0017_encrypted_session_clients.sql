-- The client address and user agent of an admin session are personal data, so they are stored
-- as `mw1` ciphertexts under the platform data key, with the session id as the row the
-- associated data binds them to. The server encrypts them before it inserts the session.
--
-- The plaintext columns are dropped without copying their values: the SQL cannot encrypt, and a
-- session lives at most the absolute session timeout (12 hours by default, 30 days at most), so sessions open
-- during the upgrade only show no address and user agent in the session list.
ALTER TABLE admin_sessions
  ADD COLUMN ip_encrypted text CHECK (char_length(ip_encrypted) <= 512),
  ADD COLUMN user_agent_encrypted text CHECK (char_length(user_agent_encrypted) <= 2048);
ALTER TABLE admin_sessions DROP COLUMN ip, DROP COLUMN user_agent;

-- The key that names the sign-in throttle counters in Redis: HMAC-SHA256 under it replaces the
-- plain SHA-256 of the email, which anyone who can read Redis could test against a list of
-- emails. One random 32-byte key, wrapped under the `application` purpose key like the audit
-- subject keys (`iv || ciphertext || tag`, 12 + 32 + 16 bytes), is shared by every server that
-- uses this database, so they all count failures under the same Redis keys.
CREATE TABLE login_throttle_keys (
  id smallint PRIMARY KEY CHECK (id = 1),
  wrapped_key bytea NOT NULL CHECK (octet_length(wrapped_key) = 60),
  application_key_version integer NOT NULL CHECK (application_key_version > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON login_throttle_keys TO mindweave_app;
