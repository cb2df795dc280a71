-- The blind index of an invitation email was computed under the platform key, so the same email
-- had the same index in every organization and linked a person's invitations across tenants.
-- New indexes are computed under the inviting organization's own data key. `email_index_scope`
-- names the key of each row's index: existing rows keep 'platform' until the server re-indexes
-- them at start, and the default stays 'platform' so that a row written without the column is
-- never taken for an organization index.
ALTER TABLE user_invitations ADD COLUMN email_index_scope text NOT NULL DEFAULT 'platform'
  CHECK (email_index_scope IN ('platform', 'organization'));

-- The start migration looks up the rows still indexed under the platform key.
CREATE INDEX user_invitations_platform_index_idx ON user_invitations (org_id, id)
  WHERE email_index_scope = 'platform' AND email_index IS NOT NULL;
