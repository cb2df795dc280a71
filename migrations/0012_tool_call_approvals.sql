-- Tool calls held for approval. When a model asks the client to run a tool that the project
-- does not auto-approve (settings.mcpAutoApprove), the gateway records the call here as
-- pending. The client's next request that carries the tool's result is forwarded only once a
-- person has approved this exact call: same id, same tool, same arguments (SHA-256 of their
-- canonical JSON). Rows belong to one organization and are isolated by row-level security.
CREATE TABLE tool_call_approvals (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id),
  project_id uuid NOT NULL REFERENCES projects (id),
  api_key_id uuid NOT NULL REFERENCES api_keys (id),
  provider text NOT NULL CHECK (provider IN ('anthropic', 'openai')),
  tool_call_id text NOT NULL CHECK (char_length(tool_call_id) BETWEEN 1 AND 200),
  tool_name text NOT NULL CHECK (char_length(tool_name) BETWEEN 1 AND 200),
  arguments_digest text NOT NULL CHECK (arguments_digest ~ '^[0-9a-f]{64}$'),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied')),
  request_id text,
  requested_at timestamptz NOT NULL DEFAULT now(),
  decided_at timestamptz,
  decided_by uuid REFERENCES users (id),
  decision_reason text CHECK (char_length(decision_reason) <= 500),
  UNIQUE (project_id, tool_call_id),
  CHECK ((status = 'pending') = (decided_at IS NULL))
);
CREATE INDEX tool_call_approvals_pending_idx
  ON tool_call_approvals (org_id, project_id, requested_at)
  WHERE status = 'pending';

ALTER TABLE tool_call_approvals ENABLE ROW LEVEL SECURITY;
CREATE POLICY tool_call_approvals_tenant_isolation ON tool_call_approvals
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE ON tool_call_approvals TO mindweave_app;
