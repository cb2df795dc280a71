-- Encrypted personal data of users: email, name and phone, and a blind index for login by email.
--
-- Values are `mw1.` field ciphertexts under the platform data key (owner tenant `platform` in
-- encryption_keys), bound to the table, column and user id. The SQL cannot call the KMS, so rows
-- written before this migration keep their plaintext in `email` and `name` until the server
-- encrypts them at start and sets both to NULL. The server refuses to start while any row still
-- has plaintext. The plaintext columns stay, nullable, because the first-run bootstrap command
-- writes users without the key hierarchy, and the next server start encrypts them.
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
ALTER TABLE users ALTER COLUMN name DROP NOT NULL;

ALTER TABLE users ADD COLUMN email_encrypted text
  CHECK (email_encrypted LIKE 'mw1.%' AND char_length(email_encrypted) <= 1024);
-- First 16 bytes of HMAC-SHA256 under the platform data key's blind-index sub-key, over the
-- normalized email, as 22 base64url characters.
ALTER TABLE users ADD COLUMN email_index text CHECK (email_index ~ '^[A-Za-z0-9_-]{22}$');
ALTER TABLE users ADD COLUMN name_encrypted text
  CHECK (name_encrypted LIKE 'mw1.%' AND char_length(name_encrypted) <= 1024);
ALTER TABLE users ADD COLUMN phone_encrypted text
  CHECK (phone_encrypted LIKE 'mw1.%' AND char_length(phone_encrypted) <= 1024);

-- Every user has an email and a name, in plaintext (not yet migrated) or encrypted form.
ALTER TABLE users ADD CONSTRAINT users_email_present
  CHECK (email IS NOT NULL OR (email_encrypted IS NOT NULL AND email_index IS NOT NULL));
ALTER TABLE users ADD CONSTRAINT users_name_present
  CHECK (name IS NOT NULL OR name_encrypted IS NOT NULL);

-- Rejects two rows with the same email under the same key version. After a rotation one email
-- can have an index per key version, so the repository also looks up every version first.
CREATE UNIQUE INDEX users_email_index_idx ON users (email_index);

-- TOTP secrets keep their column. New values are `mw1.` field ciphertexts under the platform
-- data key; `ts1.` values sealed by the older key file are re-encrypted by the server at start.
ALTER TABLE user_totp_factors ADD CONSTRAINT user_totp_factors_secret_format
  CHECK (secret_sealed LIKE 'mw1.%' OR secret_sealed LIKE 'ts1.%');

-- Invitation emails, encrypted under the platform data key like user emails, bound to the
-- invitation id, with their own blind index (the HMAC input names the table and column, so it
-- differs from the user index of the same email). Plaintext rows are encrypted at start.
ALTER TABLE user_invitations ALTER COLUMN email DROP NOT NULL;
ALTER TABLE user_invitations ADD COLUMN email_encrypted text
  CHECK (email_encrypted LIKE 'mw1.%' AND char_length(email_encrypted) <= 1024);
ALTER TABLE user_invitations ADD COLUMN email_index text
  CHECK (email_index ~ '^[A-Za-z0-9_-]{22}$');
ALTER TABLE user_invitations ADD CONSTRAINT user_invitations_email_present
  CHECK (email IS NOT NULL OR (email_encrypted IS NOT NULL AND email_index IS NOT NULL));
CREATE UNIQUE INDEX user_invitations_open_email_index_idx ON user_invitations (org_id, email_index)
  WHERE accepted_at IS NULL AND revoked_at IS NULL;
