-- Key hierarchy: wrapped key versions, the key usage log and per-organization provider keys.
--
-- Keys are stored only in wrapped form. Purpose keys are wrapped by the KMS master key, which
-- never enters the database, and data keys are wrapped by a purpose key version. This migration
-- uses only tables from 0001 and 0002, so it runs whether or not other numbers exist.

-- One row per key: its purpose and owner. Versions share the row, so the unique index gives each
-- (purpose, owner) at most one key id even when several servers create the key at once.
CREATE TABLE encryption_keys (
  key_id text PRIMARY KEY CHECK (key_id ~ '^[A-Za-z0-9_-]{1,64}$'),
  purpose text NOT NULL CHECK (purpose IN ('database', 'application', 'compliance', 'data')),
  owner_kind text NOT NULL CHECK (owner_kind IN ('system', 'tenant', 'subject')),
  owner_tenant text CHECK (char_length(owner_tenant) BETWEEN 1 AND 200),
  owner_subject text CHECK (char_length(owner_subject) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((owner_kind = 'system') = (owner_tenant IS NULL)),
  CHECK ((owner_kind = 'subject') = (owner_subject IS NOT NULL))
);
CREATE UNIQUE INDEX encryption_keys_owner_idx
  ON encryption_keys (purpose, owner_kind, coalesce(owner_tenant, ''), coalesce(owner_subject, ''));

-- One row per key version. The wrapped key is removed (NULL) once the version is destroyed.
CREATE TABLE encryption_key_versions (
  key_id text NOT NULL REFERENCES encryption_keys (key_id),
  version integer NOT NULL CHECK (version >= 1),
  parent_kind text NOT NULL CHECK (parent_kind IN ('kms', 'key')),
  -- KMS provider and master key id, for versions wrapped by the KMS.
  parent_provider text,
  parent_master_key_id text,
  -- Wrapping key version, for versions wrapped by another stored key.
  parent_key_id text,
  parent_version integer,
  state text NOT NULL
    CHECK (state IN ('active', 'decrypt_only', 'scheduled_for_deletion', 'destroyed')),
  state_before_deletion text CHECK (state_before_deletion IN ('active', 'decrypt_only')),
  wrapped_key bytea CHECK (octet_length(wrapped_key) BETWEEN 1 AND 4096),
  created_at timestamptz NOT NULL,
  deletion_date timestamptz,
  destroyed_at timestamptz,
  -- Encryptions reserved under this version, raised only by one atomic UPDATE per reservation.
  encryption_count bigint NOT NULL DEFAULT 0 CHECK (encryption_count >= 0),
  PRIMARY KEY (key_id, version),
  FOREIGN KEY (parent_key_id, parent_version) REFERENCES encryption_key_versions (key_id, version),
  CHECK (
    (parent_kind = 'kms' AND parent_provider IS NOT NULL AND parent_master_key_id IS NOT NULL
      AND parent_key_id IS NULL AND parent_version IS NULL)
    OR (parent_kind = 'key' AND parent_key_id IS NOT NULL AND parent_version IS NOT NULL
      AND parent_provider IS NULL AND parent_master_key_id IS NULL)
  ),
  CHECK ((state = 'destroyed') = (wrapped_key IS NULL)),
  -- A destroyed version keeps the deletion date it was scheduled for.
  CHECK (state <> 'scheduled_for_deletion' OR deletion_date IS NOT NULL)
);
CREATE INDEX encryption_key_versions_scheduled_idx
  ON encryption_key_versions (deletion_date) WHERE state = 'scheduled_for_deletion';

-- Every generate, wrap, unwrap, rotate and deletion step, successful or not. It never contains
-- key material. Like the audit log, the application may only insert and read.
CREATE TABLE key_usage_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time timestamptz NOT NULL,
  operation text NOT NULL CHECK (operation IN
    ('generate', 'wrap', 'unwrap', 'rotate', 'schedule_deletion', 'cancel_deletion', 'destroy')),
  key_id text NOT NULL,
  version integer NOT NULL,
  purpose text NOT NULL,
  tenant text,
  actor text NOT NULL CHECK (char_length(actor) <= 200),
  encryption_context jsonb NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('success', 'failure')),
  error_name text CHECK (char_length(error_name) <= 100)
);
CREATE INDEX key_usage_log_key_idx ON key_usage_log (key_id, version, time);
CREATE INDEX key_usage_log_tenant_time_idx ON key_usage_log (tenant, time);

CREATE FUNCTION key_usage_log_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'key_usage_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER key_usage_log_no_update_delete BEFORE UPDATE OR DELETE ON key_usage_log
  FOR EACH ROW EXECUTE FUNCTION key_usage_log_reject_change();
CREATE TRIGGER key_usage_log_no_truncate BEFORE TRUNCATE ON key_usage_log
  FOR EACH STATEMENT EXECUTE FUNCTION key_usage_log_reject_change();

-- Provider API keys of an organization, encrypted with the organization's data key. The row id
-- is chosen by the application because the ciphertext's associated data binds it.
CREATE TABLE organization_provider_keys (
  id uuid PRIMARY KEY,
  org_id uuid NOT NULL REFERENCES organizations (id),
  provider text NOT NULL CHECK (provider IN ('anthropic', 'openai')),
  encrypted_key text NOT NULL CHECK (encrypted_key LIKE 'mw1.%' AND char_length(encrypted_key) <= 8192),
  last_four text NOT NULL CHECK (char_length(last_four) = 4),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (org_id, provider)
);

GRANT SELECT, INSERT, UPDATE ON encryption_keys, encryption_key_versions TO mindweave_app;
GRANT SELECT, INSERT ON key_usage_log TO mindweave_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON organization_provider_keys TO mindweave_app;
