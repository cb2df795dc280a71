-- Per-subject keys that seal personal fields of audit entries are stored wrapped under the
-- `compliance` purpose key of the key hierarchy, so a database dump alone opens no sealed field.
--
-- `wrapped_key` is `iv || ciphertext || tag` of AES-256-GCM (12 + 32 + 16 bytes), with associated
-- data that binds the subject id and `compliance_key_version`, the version of the compliance key
-- that wrapped it. The SQL cannot call the KMS, so rows written before this migration, and rows
-- written by commands that run without the key hierarchy (first-run bootstrap), keep their key in
-- `key_material` until the server wraps it at start and sets `key_material` to NULL. Erasing a
-- subject sets both to NULL and stamps `destroyed_at`.
ALTER TABLE personal_data_keys ADD COLUMN wrapped_key bytea
  CHECK (wrapped_key IS NULL OR octet_length(wrapped_key) = 60);
ALTER TABLE personal_data_keys ADD COLUMN compliance_key_version integer
  CHECK (compliance_key_version IS NULL OR compliance_key_version > 0);
ALTER TABLE personal_data_keys ADD CONSTRAINT personal_data_keys_wrapped_version
  CHECK ((wrapped_key IS NULL) = (compliance_key_version IS NULL));
ALTER TABLE personal_data_keys ADD CONSTRAINT personal_data_keys_one_form
  CHECK (key_material IS NULL OR wrapped_key IS NULL);
ALTER TABLE personal_data_keys ADD CONSTRAINT personal_data_keys_destroyed_empty
  CHECK (destroyed_at IS NULL OR (key_material IS NULL AND wrapped_key IS NULL));
