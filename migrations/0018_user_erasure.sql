-- Erasing a user (`subjects erase --subject user:<id>`) disables the account as soon as the
-- erasure is scheduled, so nobody signs in or uses a session during the waiting period.
-- `erasure_disabled` records that the erasure, not an administrator, disabled the account, so
-- cancelling the erasure enables only accounts that were active before it.
ALTER TABLE users ADD COLUMN erasure_disabled boolean NOT NULL DEFAULT false;

-- Set when the erasure destroyed the user's keys. The blind index and any plaintext email are
-- cleared then: the encrypted fields no longer open, and the keyed hash must not keep the email
-- from registering again or stay behind as a value that can be tested against guesses.
ALTER TABLE users ADD COLUMN erased_at timestamptz;

ALTER TABLE users DROP CONSTRAINT users_email_present;
ALTER TABLE users ADD CONSTRAINT users_email_present
  CHECK (
    email IS NOT NULL
    OR (email_encrypted IS NOT NULL AND email_index IS NOT NULL)
    OR erased_at IS NOT NULL
  );

-- Erasures scheduled or done before this migration get the same state.
UPDATE users u
   SET erasure_disabled = (u.status = 'active'), status = 'disabled'
  FROM personal_data_keys k
 WHERE k.subject_id = 'user:' || u.id::text
   AND k.deletion_date IS NOT NULL AND k.destroyed_at IS NULL;

UPDATE users u
   SET status = 'disabled', erased_at = k.destroyed_at, email_index = NULL, email = NULL
  FROM personal_data_keys k
 WHERE k.subject_id = 'user:' || u.id::text AND k.destroyed_at IS NOT NULL;
