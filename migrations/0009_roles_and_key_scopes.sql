-- Roles and API key scopes: project roles per user, API key scopes, per-key rate limits and
-- rotation.

-- A project membership names a member of the organization and the project's own role for
-- them. The foreign keys keep both inside one organization: the project must belong to org_id,
-- and the user must be a member of org_id, so removing the organization membership removes the
-- project memberships too.
ALTER TABLE projects ADD CONSTRAINT projects_id_org_unique UNIQUE (id, org_id);

CREATE TABLE project_memberships (
  org_id uuid NOT NULL,
  project_id uuid NOT NULL,
  user_id uuid NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, user_id),
  FOREIGN KEY (project_id, org_id) REFERENCES projects (id, org_id),
  FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX project_memberships_org_user_idx ON project_memberships (org_id, user_id);

ALTER TABLE project_memberships ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_memberships_tenant_isolation ON project_memberships
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON project_memberships TO mindweave_app;

-- Scopes say what a key may do: `gateway` calls the AI gateway, `admin_read` reads the admin
-- API and `admin` uses all of it, always bounded by its creator's current permissions.
-- request_limit and token_limit replace the server's per-key limits for this key (per the
-- configured windows) and may only lower them; NULL keeps the server's limit.
-- replaced_by points from a rotated key to its successor, which the old key overlaps with
-- until its expires_at.
ALTER TABLE api_keys
  ADD COLUMN scopes text[] NOT NULL DEFAULT ARRAY['gateway']::text[]
    CHECK (cardinality(scopes) BETWEEN 1 AND 3
           AND scopes <@ ARRAY['gateway', 'admin_read', 'admin']::text[]),
  ADD COLUMN request_limit integer CHECK (request_limit > 0),
  ADD COLUMN token_limit integer CHECK (token_limit > 0),
  ADD COLUMN replaced_by uuid REFERENCES api_keys (id),
  ADD COLUMN rotated_at timestamptz;
