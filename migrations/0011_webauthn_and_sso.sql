-- WebAuthn second factors and OpenID Connect single sign-on. Uses only tables of 0001-0005.

-- WebAuthn credentials belong to a user, like TOTP factors: a user is one person across all of
-- their organizations, and their authenticator proves that person whichever organization they
-- then work in. So this is not a tenant table. credential_id is the base64url credential id the
-- authenticator chose; public_key is the COSE public key it attested.
CREATE TABLE user_webauthn_credentials (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id),
  credential_id text NOT NULL UNIQUE
    CHECK (char_length(credential_id) BETWEEN 1 AND 1366 AND credential_id ~ '^[A-Za-z0-9_-]+$'),
  public_key bytea NOT NULL CHECK (octet_length(public_key) BETWEEN 1 AND 2048),
  counter bigint NOT NULL DEFAULT 0 CHECK (counter >= 0),
  transports text[] NOT NULL DEFAULT '{}' CHECK (cardinality(transports) <= 8),
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
  device_type text NOT NULL CHECK (device_type IN ('singleDevice', 'multiDevice')),
  backed_up boolean NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);
CREATE INDEX user_webauthn_credentials_user_idx ON user_webauthn_credentials (user_id);

-- WebAuthn challenges, single use and short-lived. A registration challenge is bound to the
-- session that asked for it, and an authentication challenge to the pending MFA sign-in.
CREATE TABLE webauthn_challenges (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id),
  purpose text NOT NULL CHECK (purpose IN ('registration', 'authentication')),
  challenge text NOT NULL CHECK (challenge ~ '^[A-Za-z0-9_-]{16,128}$'),
  session_id uuid REFERENCES admin_sessions (id) ON DELETE CASCADE,
  mfa_challenge_id uuid REFERENCES mfa_challenges (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  consumed_at timestamptz,
  CHECK ((purpose = 'registration') = (session_id IS NOT NULL)),
  CHECK ((purpose = 'authentication') = (mfa_challenge_id IS NOT NULL))
);
CREATE INDEX webauthn_challenges_user_idx ON webauthn_challenges (user_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON user_webauthn_credentials, webauthn_challenges
  TO mindweave_app;

-- One OpenID Connect identity provider per organization. The client secret is encrypted with
-- the organization's data key, bound to the row id, and never returned. max_role is the role
-- of the admin who saved the configuration: no group mapping may grant more, and members above
-- it cannot sign in through this provider.
CREATE TABLE organization_sso_configs (
  id uuid PRIMARY KEY,
  org_id uuid NOT NULL UNIQUE REFERENCES organizations (id),
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{1,50}$'),
  issuer text NOT NULL CHECK (char_length(issuer) BETWEEN 1 AND 2048),
  client_id text NOT NULL CHECK (char_length(client_id) BETWEEN 1 AND 255),
  client_secret_encrypted text NOT NULL
    CHECK (client_secret_encrypted LIKE 'mw1.%' AND char_length(client_secret_encrypted) <= 8192),
  scopes text[] NOT NULL CHECK (cardinality(scopes) BETWEEN 1 AND 20),
  allowed_email_domains text[] NOT NULL CHECK (cardinality(allowed_email_domains) BETWEEN 1 AND 50),
  groups_claim text NOT NULL CHECK (char_length(groups_claim) BETWEEN 1 AND 100),
  role_mappings jsonb NOT NULL DEFAULT '[]'::jsonb,
  default_role text
    CHECK (default_role IN ('owner', 'admin', 'security_admin', 'auditor', 'member', 'viewer')),
  max_role text NOT NULL
    CHECK (max_role IN ('owner', 'admin', 'security_admin', 'auditor', 'member', 'viewer')),
  jit_provisioning boolean NOT NULL DEFAULT false,
  updated_by uuid REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE organization_sso_configs ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_sso_configs_tenant_isolation ON organization_sso_configs
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);

-- The identity provider's stable subject of each user who signed in through it, so a later
-- change of the email address at the provider still reaches the same account.
CREATE TABLE user_sso_identities (
  org_id uuid NOT NULL REFERENCES organizations (id),
  issuer text NOT NULL CHECK (char_length(issuer) BETWEEN 1 AND 2048),
  subject text NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 255),
  user_id uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, issuer, subject),
  UNIQUE (org_id, user_id)
);
ALTER TABLE user_sso_identities ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_sso_identities_tenant_isolation ON user_sso_identities
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);

-- A started SSO sign-in, kept until its callback or for 10 minutes. The state is stored as
-- SHA-256, and so is the random value of the browser's binding cookie, so the callback must
-- come from the browser that started. The PKCE verifier and nonce are only useful together
-- with an authorization code of this client.
CREATE TABLE sso_login_states (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id),
  state_hash bytea NOT NULL UNIQUE CHECK (octet_length(state_hash) = 32),
  browser_binding_hash bytea NOT NULL CHECK (octet_length(browser_binding_hash) = 32),
  code_verifier text NOT NULL CHECK (code_verifier ~ '^[A-Za-z0-9._~-]{43,128}$'),
  nonce text NOT NULL CHECK (char_length(nonce) BETWEEN 16 AND 128),
  redirect_uri text NOT NULL CHECK (char_length(redirect_uri) <= 2048),
  session_type text NOT NULL CHECK (session_type IN ('bearer', 'cookie')),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  consumed_at timestamptz
);
CREATE INDEX sso_login_states_org_idx ON sso_login_states (org_id, expires_at);
ALTER TABLE sso_login_states ENABLE ROW LEVEL SECURITY;
CREATE POLICY sso_login_states_tenant_isolation ON sso_login_states
  USING (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('mindweave.org_id', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE, DELETE ON organization_sso_configs TO mindweave_app;
GRANT SELECT, INSERT, UPDATE ON user_sso_identities TO mindweave_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON sso_login_states TO mindweave_app;

-- The SSO start and callback routes name the organization by its sign-in slug, before any
-- tenant is known. This function returns the organization of a slug and nothing else; it runs
-- with its owner's rights because row-level security hides every row until the tenant is set.
CREATE FUNCTION sso_org_id_for_slug(login_slug text) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT org_id FROM organization_sso_configs WHERE slug = login_slug $$;
REVOKE ALL ON FUNCTION sso_org_id_for_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sso_org_id_for_slug(text) TO mindweave_app;
