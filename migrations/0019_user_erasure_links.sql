-- The erasure sweep deletes the rows that still link an erased user to the person: the SSO
-- identity links, password reset tokens, and the invitations the user accepted. The
-- application role could only insert and update those tables before. Row-level security still
-- limits the deletion of SSO identity links and invitations to the tenant in scope.
GRANT DELETE ON user_sso_identities, password_reset_tokens, user_invitations TO mindweave_app;

-- The organizations where rows of tenant tables still link to a user: memberships, SSO
-- identity links and accepted invitations. The sweep opens the tenant scope of each in turn,
-- because row-level security hides these rows from the application role until then. This
-- function returns organization ids only and runs with its owner's rights for that reason.
CREATE FUNCTION user_linked_organizations(linked_user_id uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT org_id FROM memberships WHERE user_id = linked_user_id
  UNION
  SELECT org_id FROM user_sso_identities WHERE user_id = linked_user_id
  UNION
  SELECT org_id FROM user_invitations WHERE accepted_by = linked_user_id
$$;
REVOKE ALL ON FUNCTION user_linked_organizations(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION user_linked_organizations(uuid) TO mindweave_app;
