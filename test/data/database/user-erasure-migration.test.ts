import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../../../src/data/database/database.js';
import { openMemoryDatabase } from '../../../src/data/database/embedded-database.js';
import { loadMigrations, migrate } from '../../../src/data/database/migrate.js';

const ERASURE_MIGRATION = 18;

let db: Database;

async function userRow(id: string) {
  const result = await db.query<{
    status: string;
    erasure_disabled: boolean;
    erased_at: Date | null;
    email: string | null;
  }>('SELECT status, erasure_disabled, erased_at, email FROM users WHERE id = $1', [id]);
  return result.rows[0];
}

async function insertUser(id: string, status: 'active' | 'disabled'): Promise<void> {
  await db.query(`INSERT INTO users (id, email, name, status) VALUES ($1, $2, 'Person', $3)`, [
    id,
    `${id}@example.org`,
    status,
  ]);
}

beforeAll(async () => {
  // Applies the migrations before the erasure one by hand, so its backfill runs over rows that
  // an older version wrote.
  db = await openMemoryDatabase();
  await db.query(`CREATE TABLE schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  for (const migration of await loadMigrations()) {
    if (migration.version >= ERASURE_MIGRATION) break;
    await db.execScript(migration.sql);
    await db.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
      migration.version,
      migration.name,
    ]);
  }
}, 120_000);

afterAll(async () => {
  await db?.close();
});

describe('user erasure migration', () => {
  it('backfills scheduled and done erasures', async () => {
    const live = '00000000-0000-4000-8000-000000000001';
    const scheduled = '00000000-0000-4000-8000-000000000002';
    const scheduledDisabled = '00000000-0000-4000-8000-000000000003';
    const erased = '00000000-0000-4000-8000-000000000004';
    await insertUser(live, 'active');
    await insertUser(scheduled, 'active');
    await insertUser(scheduledDisabled, 'disabled');
    await insertUser(erased, 'active');
    await db.query(
      `INSERT INTO personal_data_keys (subject_id, deletion_date, destroyed_at) VALUES
         ('user:' || $1::text, NULL, NULL),
         ('user:' || $2::text, now() + interval '7 days', NULL),
         ('user:' || $3::text, now() + interval '7 days', NULL),
         ('user:' || $4::text, now() - interval '1 day', now())`,
      [live, scheduled, scheduledDisabled, erased],
    );

    const applied = await migrate(db);
    expect(applied.map((migration) => migration.version)).toContain(ERASURE_MIGRATION);

    expect(await userRow(live)).toMatchObject({ status: 'active', erasure_disabled: false });
    expect(await userRow(scheduled)).toMatchObject({ status: 'disabled', erasure_disabled: true });
    expect(await userRow(scheduledDisabled)).toMatchObject({
      status: 'disabled',
      erasure_disabled: false,
    });
    const erasedRow = await userRow(erased);
    expect(erasedRow?.status).toBe('disabled');
    expect(erasedRow?.email).toBeNull();
    expect(erasedRow?.erased_at).not.toBeNull();
  });
});
