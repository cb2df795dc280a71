-- Erasing a data subject first schedules the destruction of its personal data key, so a mistaken
-- erasure can be cancelled during a waiting period of at least 7 days. `deletion_date` is the
-- earliest time the server's key maintenance timer destroys the key. While it is set and
-- `destroyed_at` is NULL, the key still seals and opens personal fields. Cancelling sets it back
-- to NULL. After destruction it keeps the date the erasure was due.
ALTER TABLE personal_data_keys ADD COLUMN deletion_date timestamptz;

-- The maintenance timer looks up the scheduled keys whose date has passed.
CREATE INDEX personal_data_keys_deletion_due_idx ON personal_data_keys (deletion_date)
  WHERE deletion_date IS NOT NULL AND destroyed_at IS NULL;
