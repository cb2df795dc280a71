-- Row-level security on the tenant tables of 0001-0005.
--
-- The server runs as mindweave_app (NOBYPASSRLS, owns no table), and every query on tenant
-- rows runs in a transaction that sets mindweave.org_id to the current organization. The
-- policies below then hide and reject every row of other organizations, so a query that
-- forgets its WHERE org_id = $n still cannot read or write another tenant's rows. Outside such
-- a transaction the setting is empty and the policies match no row.
--
-- The migrating user owns the tables and so is not subject to the policies (no FORCE ROW LEVEL
-- SECURITY), which keeps migrations, `mindweave audit retain` and the functions below working.
--
-- Table by table:
--   organizations                 tenant table, keyed on its own id
--   memberships                   tenant table
--   projects                      tenant table
--   api_keys                      tenant table
--   gateway_requests              tenant table
--   organization_provider_keys    tenant table
--   audit_logs                    reads isolated like a tenant table; inserts open, see below
--   users, admin_sessions, user_totp_factors, user_recovery_codes, mfa_challenges
--                                 not tenant tables: a user is one person across all of their
--                                 organizations, and sign-in and session lookups run before any
--                                 organization is known. Rows are found by user id, session or
--                                 challenge token hash.
--   personal_data_keys            not a tenant table: one key per data subject (a person), used
--                                 to seal audit fields of every organization the person acts in
--   audit_log_heads, audit_checkpoints, audit_retention_seals
--                                 not tenant tables: the state of the one global audit log
--   encryption_keys, encryption_key_versions
--                                 not tenant tables: system, tenant and subject keys share them.
--                                 Rows hold only wrapped keys that need the KMS master key, which
--                                 is never in the database, and each ciphertext's associated
--                                 data binds it to its tenant, table, column and row.
--   key_usage_log                 not a tenant table: append-only record of key operations of
--                                 every owner, without key material, read by operators
--   schema_migrations             not a tenant table

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
CREATE POLICY organizations_tenant_isolation ON organizations
  USING (id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
CREATE POLICY memberships_tenant_isolation ON memberships
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);

ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
CREATE POLICY projects_tenant_isolation ON projects
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_keys_tenant_isolation ON api_keys
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);

ALTER TABLE gateway_requests ENABLE ROW LEVEL SECURITY;
CREATE POLICY gateway_requests_tenant_isolation ON gateway_requests
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);

ALTER TABLE organization_provider_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_provider_keys_tenant_isolation ON organization_provider_keys
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);

-- The audit log is one hash chain for all organizations, and entries of system actions and
-- sign-ins have no organization (org_id NULL). Reads through the table see only the current
-- organization's entries, which is how the org-scoped search and export read it. Inserts are
-- open to the application role, because one append writes the entries of several organizations
-- (a batch of gateway calls) and of none; triggers already reject UPDATE, DELETE and TRUNCATE,
-- and an entry written outside the append path breaks the chain that `audit verify` checks.
-- Partitions are created by audit_ensure_partition and grant the application role nothing, so
-- every read goes through the parent table and its policies.
ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_logs_tenant_isolation ON audit_logs
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);
CREATE POLICY audit_logs_append ON audit_logs FOR INSERT TO mindweave_app WITH CHECK (true);

-- Lookups that run before the organization is known, or that read across organizations on
-- purpose. Each is SECURITY DEFINER, so it runs as its owner (the migrating user, who owns the
-- tables and is not subject to the policies), with a fixed search_path that puts pg_temp last
-- so a caller's temporary table cannot stand in for a real one. Each returns only what its
-- caller needs, and only mindweave_app may execute it.

-- Every gateway call: the presented API key's row, its project's status and settings and its
-- organization's status, found by the SHA-256 of the key, in one round trip. The caller proves
-- it holds the key, so it may read that key's row. The whole row is returned so that columns
-- added to api_keys later reach the gateway without replacing this function.
CREATE FUNCTION gateway_api_key_grant(presented_key_hash bytea)
RETURNS TABLE (api_key api_keys, project_status text, project_settings jsonb, org_status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT k, p.status, p.settings, o.status
    FROM api_keys k
    JOIN projects p ON p.id = k.project_id
    JOIN organizations o ON o.id = k.org_id
   WHERE k.key_hash = presented_key_hash
$$;

-- The organizations a signed-in user belongs to, with the user's role in each: the
-- organization list, `auth/me` and the MFA requirement, which spans all of them. A member may
-- read their organizations' rows; whole rows are returned so that columns added later reach the
-- callers without replacing this function.
CREATE FUNCTION tenancy_user_organizations(member_user_id uuid)
RETURNS TABLE (organization organizations, role text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT o, m.role
    FROM memberships m JOIN organizations o ON o.id = m.org_id
   WHERE m.user_id = member_user_id
   ORDER BY o.created_at, o.id
$$;

-- First-run bootstrap refuses to run once any organization has an owner or admin.
CREATE FUNCTION tenancy_admin_exists() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM memberships WHERE role IN ('owner', 'admin'))
$$;

-- Ids of all organizations, oldest first, and nothing else: operator commands that default to
-- the only organization, and re-encryption of every organization's provider keys.
CREATE FUNCTION tenancy_organization_ids() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT id FROM organizations ORDER BY created_at, id
$$;

-- The audit checkpointer, verifier, fault classifier and Merkle proofs work on the whole
-- chain, whichever organizations its entries belong to. Proof routes check that the entry
-- belongs to the caller's organization first, through the table and its policy.

-- Entries with after_seq < seq <= up_to_seq, in chain order.
CREATE FUNCTION audit_chain_entries(chain_log_id text, after_seq bigint, up_to_seq bigint)
RETURNS SETOF audit_logs
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM audit_logs
   WHERE log_id = chain_log_id AND seq > after_seq AND seq <= up_to_seq
   ORDER BY seq, timestamp
$$;

-- At most max_rows entries after the entry (after_seq, after_time), in chain order.
CREATE FUNCTION audit_chain_entries_after(chain_log_id text, after_seq bigint,
                                          after_time timestamptz, max_rows integer)
RETURNS SETOF audit_logs
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM audit_logs
   WHERE log_id = chain_log_id AND (seq, timestamp) > (after_seq, after_time)
   ORDER BY seq, timestamp
   LIMIT max_rows
$$;

-- The largest stored seq of a log, or NULL when it has no entries.
CREATE FUNCTION audit_chain_max_seq(chain_log_id text) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT max(seq) FROM audit_logs WHERE log_id = chain_log_id
$$;

-- Merkle leaf hashes of the entries with after_seq < seq <= up_to_seq, in seq order.
CREATE FUNCTION audit_chain_leaves(chain_log_id text, after_seq bigint, up_to_seq bigint)
RETURNS TABLE (seq bigint, leaf_hash bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT a.seq, a.leaf_hash FROM audit_logs a
   WHERE a.log_id = chain_log_id AND a.seq > after_seq AND a.seq <= up_to_seq
   ORDER BY a.seq
$$;

REVOKE ALL ON FUNCTION gateway_api_key_grant(bytea), tenancy_user_organizations(uuid),
  tenancy_admin_exists(), tenancy_organization_ids(),
  audit_chain_entries(text, bigint, bigint),
  audit_chain_entries_after(text, bigint, timestamptz, integer), audit_chain_max_seq(text),
  audit_chain_leaves(text, bigint, bigint)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gateway_api_key_grant(bytea), tenancy_user_organizations(uuid),
  tenancy_admin_exists(), tenancy_organization_ids(),
  audit_chain_entries(text, bigint, bigint),
  audit_chain_entries_after(text, bigint, timestamptz, integer), audit_chain_max_seq(text),
  audit_chain_leaves(text, bigint, bigint)
  TO mindweave_app;
