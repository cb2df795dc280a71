-- Identity recovery and onboarding: password reset tokens and invitations to an organization.

-- A password reset token is sent by mail and stored only as SHA-256 of the token (256 random
-- bits). It works once, until expires_at (30 minutes after the request). Completing any reset
-- of a user marks every open token of that user as used.
CREATE TABLE password_reset_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  user_id uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX password_reset_tokens_user_idx ON password_reset_tokens (user_id, created_at);

GRANT SELECT, INSERT, UPDATE ON password_reset_tokens TO mindweave_app;

-- An invitation lets the owner of an email address join one organization with a role. The
-- token is sent by mail and stored only as SHA-256; it works once, until expires_at. At most
-- one invitation per organization and email is open (neither accepted nor revoked).
CREATE TABLE user_invitations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id),
  email text NOT NULL CHECK (char_length(email) <= 255 AND email = lower(email)),
  role text NOT NULL
    CHECK (role IN ('owner', 'admin', 'security_admin', 'auditor', 'member', 'viewer')),
  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  invited_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  accepted_at timestamptz,
  accepted_by uuid REFERENCES users (id),
  revoked_at timestamptz
);
CREATE UNIQUE INDEX user_invitations_open_idx ON user_invitations (org_id, email)
  WHERE accepted_at IS NULL AND revoked_at IS NULL;

ALTER TABLE user_invitations ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_invitations_tenant_isolation ON user_invitations
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE ON user_invitations TO mindweave_app;

-- The invitee presents only the token, so the server cannot yet name the tenant. This
-- function returns the organization of the invitation with that token hash (or NULL), and
-- nothing else, so the server can then open the tenant scope. SECURITY DEFINER runs it as
-- the table owner, to whom the row-level security policy does not apply.
CREATE FUNCTION user_invitation_org(invitation_token_hash bytea) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT org_id FROM user_invitations WHERE token_hash = invitation_token_hash
$$;
REVOKE ALL ON FUNCTION user_invitation_org(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION user_invitation_org(bytea) TO mindweave_app;
