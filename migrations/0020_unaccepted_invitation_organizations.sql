-- The organizations that hold invitations nobody has accepted. An invitation's email blind index
-- is keyed per organization, so the erasure sweep computes the erased user's index in each of
-- these organizations and deletes the invitations sent to that email. Row-level security hides
-- the invitations of other tenants from the application role, so this function runs with its
-- owner's rights and returns organization ids only.
CREATE FUNCTION organizations_with_unaccepted_invitations() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT org_id FROM user_invitations WHERE accepted_at IS NULL
$$;
REVOKE ALL ON FUNCTION organizations_with_unaccepted_invitations() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION organizations_with_unaccepted_invitations() TO mindweave_app;
