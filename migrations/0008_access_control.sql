-- Access control: just-in-time role grants and break-glass access, four-eyes change requests
-- for policy changes that loosen a project's policy, and per-organization IP allowlists.

-- With four_eyes on, a change that loosens a project's policy (or turns four_eyes off) waits
-- for a second admin's approval instead of applying at once.
ALTER TABLE organizations ADD COLUMN four_eyes boolean NOT NULL DEFAULT false;

-- A just-in-time request for an elevated role (kind 'jit'), or an owner's break-glass access
-- (kind 'break_glass', approved when created). An approved grant applies while
-- revoked_at IS NULL AND expires_at > now(); requests check that against the database, so
-- expiry and revocation reach every server at once. expired_at is written once, by the sweep
-- that records the expiry in the audit log.
CREATE TABLE access_grants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id),
  user_id uuid NOT NULL REFERENCES users (id),
  kind text NOT NULL CHECK (kind IN ('jit', 'break_glass')),
  role text NOT NULL
    CHECK (role IN ('owner', 'admin', 'security_admin', 'auditor', 'member', 'viewer')),
  reason text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 1000),
  duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 1 AND 10080),
  status text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'cancelled', 'lapsed')),
  decided_by uuid REFERENCES users (id),
  decided_at timestamptz,
  decision_note text CHECK (char_length(decision_note) <= 1000),
  expires_at timestamptz,
  revoked_at timestamptz,
  revoked_by uuid REFERENCES users (id),
  expired_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'approved') = (expires_at IS NOT NULL)),
  -- Nobody approves their own request, whatever the application does.
  CHECK (decided_by IS NULL OR decided_by <> user_id)
);
CREATE INDEX access_grants_user_idx ON access_grants (org_id, user_id, status);
CREATE INDEX access_grants_expiry_idx ON access_grants (expires_at)
  WHERE status = 'approved' AND expired_at IS NULL AND revoked_at IS NULL;
-- One open request per member and organization.
CREATE UNIQUE INDEX access_grants_one_pending_idx ON access_grants (org_id, user_id)
  WHERE status = 'pending';

-- A change that loosens policy, waiting for a second admin. base_updated_at is the resource's
-- updated_at when the change was requested: approval applies it only if that is unchanged.
CREATE TABLE change_requests (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id),
  resource_type text NOT NULL CHECK (resource_type IN ('project', 'organization')),
  resource_id uuid NOT NULL,
  base_updated_at timestamptz NOT NULL,
  changes jsonb NOT NULL,
  loosening text[] NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'applied', 'rejected', 'stale')),
  requested_by uuid NOT NULL REFERENCES users (id),
  decided_by uuid REFERENCES users (id),
  decided_at timestamptz,
  decision_note text CHECK (char_length(decision_note) <= 1000),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (status = 'rejected' OR decided_by IS NULL OR decided_by <> requested_by)
);
CREATE INDEX change_requests_org_idx ON change_requests (org_id, status, created_at);

-- Address ranges that may use an organization's admin API ('admin') or its API keys
-- ('api_key'). A surface without entries is not restricted.
CREATE TABLE ip_allowlist_entries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id),
  surface text NOT NULL CHECK (surface IN ('admin', 'api_key')),
  cidr cidr NOT NULL,
  description text CHECK (char_length(description) <= 200),
  created_by uuid REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (org_id, surface, cidr)
);

ALTER TABLE access_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY access_grants_tenant_isolation ON access_grants
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);

ALTER TABLE change_requests ENABLE ROW LEVEL SECURITY;
CREATE POLICY change_requests_tenant_isolation ON change_requests
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);

ALTER TABLE ip_allowlist_entries ENABLE ROW LEVEL SECURITY;
CREATE POLICY ip_allowlist_entries_tenant_isolation ON ip_allowlist_entries
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);

-- The expiry sweep works across organizations, which row-level security hides from the
-- application role. This function runs as its owner (the migrating user, who owns the table
-- and so is not subject to its policies) and does exactly one thing: it stamps approved
-- grants past their expiry, and pending requests older than 24 hours as lapsed, and returns
-- the rows it changed. The row locks of the UPDATE make it safe to run from several servers
-- at once: a row is returned by one sweep only.
CREATE FUNCTION access_grants_sweep()
RETURNS TABLE (grant_id uuid, grant_org_id uuid, grant_user_id uuid, grant_kind text,
               grant_role text, grant_expires_at timestamptz, event text)
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
  WITH expired AS (
    UPDATE access_grants g SET expired_at = now()
     WHERE g.status = 'approved' AND g.expired_at IS NULL AND g.revoked_at IS NULL
       AND g.expires_at <= now()
    RETURNING g.id, g.org_id, g.user_id, g.kind, g.role, g.expires_at, 'expired'::text
  ), lapsed AS (
    UPDATE access_grants g SET status = 'lapsed', decided_at = now()
     WHERE g.status = 'pending' AND g.created_at <= now() - interval '24 hours'
    RETURNING g.id, g.org_id, g.user_id, g.kind, g.role, g.expires_at, 'lapsed'::text
  )
  SELECT * FROM expired UNION ALL SELECT * FROM lapsed
$$;
REVOKE ALL ON FUNCTION access_grants_sweep() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION access_grants_sweep() TO mindweave_app;

GRANT SELECT, INSERT, UPDATE ON access_grants, change_requests TO mindweave_app;
GRANT SELECT, INSERT, DELETE ON ip_allowlist_entries TO mindweave_app;
