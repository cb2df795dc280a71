-- Tamper-evident audit log.
--
-- Each entry has a gap-free sequence number per log, assigned while holding the row lock on
-- the log's head, so concurrent writers in several processes produce one linear chain. The
-- entry hash covers a canonical encoding of every field and the previous entry's hash; the
-- leaf hash is the entry's RFC 6962 Merkle leaf. The head also keeps the Merkle frontier, so
-- the tree root of the whole log is known after every append without reading old entries.
--
-- Personal fields (actor email, IP address, user agent, personal values in old/new values)
-- are stored sealed under a key of their data subject; the hashes cover the sealed text, so
-- destroying the subject's key erases the plaintext and verification still passes.

-- The server switches to this role (SET ROLE) after migrating, so it runs without the rights
-- of the migration user: the grants at the end of this file are all it has. An operator whose
-- database user may not create roles creates mindweave_app and grants it to that user first.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mindweave_app') THEN
    CREATE ROLE mindweave_app NOLOGIN NOBYPASSRLS;
  END IF;
  IF NOT pg_has_role(current_user, 'mindweave_app', 'MEMBER') THEN
    EXECUTE format('GRANT mindweave_app TO %I', current_user);
  END IF;
END
$$;

CREATE TABLE audit_log_heads (
  log_id text PRIMARY KEY CHECK (log_id ~ '^[a-z0-9_-]{1,64}$'),
  next_seq bigint NOT NULL CHECK (next_seq >= 1),
  last_hash text CHECK (last_hash ~ '^[0-9a-f]{64}$'),
  last_timestamp timestamptz,
  -- Hex roots of the perfect subtrees of the Merkle tree of entries 1 .. next_seq - 1.
  frontier text[] NOT NULL DEFAULT '{}'
);
INSERT INTO audit_log_heads (log_id, next_seq) VALUES ('main', 1);

-- The head only moves forward: moving it back would hand out sequence numbers again.
CREATE FUNCTION audit_log_heads_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'audit_log_heads rows cannot be deleted'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.log_id <> OLD.log_id OR NEW.next_seq < OLD.next_seq
     OR (NEW.next_seq = OLD.next_seq AND NEW.last_hash IS DISTINCT FROM OLD.last_hash) THEN
    RAISE EXCEPTION 'audit_log_heads only moves forward'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_heads_forward_only BEFORE UPDATE OR DELETE ON audit_log_heads
  FOR EACH ROW EXECUTE FUNCTION audit_log_heads_forward_only();

CREATE TABLE audit_logs (
  log_id text NOT NULL DEFAULT 'main',
  seq bigint NOT NULL CHECK (seq >= 1),
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  timestamp timestamptz NOT NULL,
  actor_type varchar(20) NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
  actor_id uuid,
  actor_email text,
  actor_ip text,
  actor_user_agent text,
  org_id uuid,
  project_id uuid,
  request_id uuid,
  session_id uuid,
  action varchar(100) NOT NULL,
  resource_type varchar(50),
  resource_id uuid,
  old_values jsonb,
  new_values jsonb,
  metadata jsonb,
  sensitivity varchar(20) NOT NULL DEFAULT 'normal'
    CHECK (sensitivity IN ('normal', 'sensitive', 'critical')),
  compliance_relevant boolean NOT NULL DEFAULT false,
  previous_hash text CHECK (previous_hash ~ '^[0-9a-f]{64}$'),
  entry_hash text NOT NULL CHECK (entry_hash ~ '^[0-9a-f]{64}$'),
  leaf_hash bytea NOT NULL CHECK (octet_length(leaf_hash) = 32),
  PRIMARY KEY (log_id, seq, timestamp)
) PARTITION BY RANGE (timestamp);

CREATE INDEX audit_logs_time_idx ON audit_logs (timestamp);
CREATE INDEX audit_logs_org_time_idx ON audit_logs (org_id, timestamp);
CREATE INDEX audit_logs_action_idx ON audit_logs (action);
CREATE INDEX audit_logs_actor_idx ON audit_logs (actor_id);
CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_type, resource_id);

-- The database itself rejects changes to recorded entries, whoever asks.
CREATE FUNCTION audit_logs_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_logs is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_logs_no_update_delete BEFORE UPDATE OR DELETE ON audit_logs
  FOR EACH ROW EXECUTE FUNCTION audit_logs_reject_change();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
  FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_reject_change();

-- Creates the monthly partition holding `month` (with its own TRUNCATE guard, since a TRUNCATE
-- of a partition does not fire the parent's trigger). SECURITY DEFINER lets the application
-- role create next month's partition without any other DDL right.
CREATE FUNCTION audit_ensure_partition(month timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  lower_bound timestamptz := date_trunc('month', month AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  upper_bound timestamptz := lower_bound + interval '1 month';
  name text := 'audit_logs_' || to_char(lower_bound AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
  IF to_regclass(name) IS NULL THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF audit_logs FOR VALUES FROM (%L) TO (%L)',
                   name, lower_bound, upper_bound);
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
                   'EXECUTE FUNCTION audit_logs_reject_change()', name || '_no_truncate', name);
  END IF;
  RETURN name;
END
$$;
REVOKE ALL ON FUNCTION audit_ensure_partition(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_ensure_partition(timestamptz) TO mindweave_app;

-- Entries whose month has no partition yet land here instead of failing the request; the
-- server creates partitions ahead of time so this stays empty.
CREATE TABLE audit_logs_default PARTITION OF audit_logs DEFAULT;
CREATE TRIGGER audit_logs_default_no_truncate BEFORE TRUNCATE ON audit_logs_default
  FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_reject_change();

SELECT audit_ensure_partition(now() - interval '1 month');
SELECT audit_ensure_partition(now());
SELECT audit_ensure_partition(now() + interval '1 month');

-- Signed tree heads. The same tree size always has the same root, so concurrent signers
-- insert at most one row per size.
CREATE TABLE audit_checkpoints (
  log_id text NOT NULL REFERENCES audit_log_heads (log_id),
  tree_size bigint NOT NULL CHECK (tree_size >= 0),
  root_hash bytea NOT NULL CHECK (octet_length(root_hash) = 32),
  signed_note text NOT NULL,
  -- Hex Merkle frontier at tree_size, so the next checkpoint can be rebuilt from the new leaves.
  frontier text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (log_id, tree_size)
);

-- Record of dropped partitions, so verification can continue across the gap they leave.
CREATE TABLE audit_retention_seals (
  log_id text NOT NULL REFERENCES audit_log_heads (log_id),
  partition_name text NOT NULL,
  first_seq bigint NOT NULL,
  last_seq bigint NOT NULL,
  last_entry_hash text NOT NULL,
  -- Merkle frontier after entry last_seq, in hex; its root equals a signed checkpoint's.
  frontier text[] NOT NULL,
  checkpoint_note text NOT NULL,
  dropped_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (log_id, first_seq)
);

-- Keys that seal personal fields, one per data subject. Destroying a key erases the subject's
-- personal data in the audit log without touching the hashed entries.
-- TODO: the key material is stored unwrapped until the key hierarchy wraps it under a
-- master key; until then a database dump can unseal personal fields.
CREATE TABLE personal_data_keys (
  subject_id text PRIMARY KEY CHECK (char_length(subject_id) <= 200),
  key_material bytea CHECK (key_material IS NULL OR octet_length(key_material) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  destroyed_at timestamptz
);

-- The application role: full access to operational tables, but only INSERT and SELECT on
-- the audit log and its checkpoints.
GRANT SELECT, INSERT, UPDATE, DELETE ON organizations, users, memberships, projects, api_keys,
  admin_sessions, gateway_requests TO mindweave_app;
GRANT SELECT, UPDATE ON audit_log_heads TO mindweave_app;
GRANT SELECT, INSERT ON audit_logs, audit_checkpoints, audit_retention_seals TO mindweave_app;
GRANT SELECT, INSERT, UPDATE ON personal_data_keys TO mindweave_app;
GRANT SELECT ON schema_migrations TO mindweave_app;
