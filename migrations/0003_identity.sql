-- Identity: session transports and CSRF tokens, TOTP second factors, recovery codes, MFA
-- sign-in challenges, and per-organization MFA enforcement.

-- Members of an organization with require_mfa must enroll a second factor before they can use
-- any route but enrollment; owners, admins and security admins must in every organization.
ALTER TABLE organizations ADD COLUMN require_mfa boolean NOT NULL DEFAULT false;

-- A bearer session carries its token in the Authorization header. A cookie session carries it
-- in an httpOnly cookie, and its state-changing requests also need the CSRF token whose SHA-256
-- is stored here.
ALTER TABLE admin_sessions
  ADD COLUMN session_type text NOT NULL DEFAULT 'bearer'
    CHECK (session_type IN ('bearer', 'cookie')),
  ADD COLUMN csrf_token_hash bytea CHECK (octet_length(csrf_token_hash) = 32),
  ADD COLUMN mfa_verified boolean NOT NULL DEFAULT false,
  ADD CONSTRAINT admin_sessions_cookie_csrf
    CHECK (session_type = 'bearer' OR csrf_token_hash IS NOT NULL);

-- One TOTP factor per user. The secret is sealed with AES-256-GCM by the server; confirmed_at
-- stays NULL until the user proves the authenticator works with a first code. last_used_step
-- is the latest accepted time step, so a code (or any code of an earlier step) is accepted once.
CREATE TABLE user_totp_factors (
  user_id uuid PRIMARY KEY REFERENCES users (id),
  secret_sealed text NOT NULL CHECK (char_length(secret_sealed) <= 512),
  confirmed_at timestamptz,
  last_used_step bigint,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Single-use recovery codes, stored as SHA-256 of the normalized code (about 79 random bits).
CREATE TABLE user_recovery_codes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id),
  code_hash bytea NOT NULL CHECK (octet_length(code_hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  used_at timestamptz,
  UNIQUE (user_id, code_hash)
);

-- The second step of a sign-in with MFA: a short-lived, single-use token stored as SHA-256.
CREATE TABLE mfa_challenges (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  user_id uuid NOT NULL REFERENCES users (id),
  session_type text NOT NULL CHECK (session_type IN ('bearer', 'cookie')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  consumed_at timestamptz
);
CREATE INDEX mfa_challenges_user_idx ON mfa_challenges (user_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON user_totp_factors, user_recovery_codes, mfa_challenges
  TO mindweave_app;
