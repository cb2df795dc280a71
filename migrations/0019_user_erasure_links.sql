-- The erasure sweep deletes the rows that still link an erased user to the person: the SSO
-- identity links, password reset tokens, and the invitations addressed to the user. The
-- application role could only insert and update those tables before. Row-level security still
-- limits the deletion of SSO identity links and invitations to the tenant in scope.
GRANT DELETE ON user_sso_identities, password_reset_tokens, user_invitations TO mindweave_app;
