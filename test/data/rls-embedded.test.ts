import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../../src/data/database/database.js';
import { openMemoryDatabase } from '../../src/data/database/embedded-database.js';
import { migrate } from '../../src/data/database/migrate.js';
import { APPLICATION_ROLE } from '../../src/data/database/open-database.js';
import { inTenant } from '../../src/data/database/tenant-scope.js';
import {
  catalogTenantTables,
  seedTenant,
  SEEDED_TENANT_TABLES,
  tenantColumn,
  type SeededTenant,
} from './rls-fixture.js';

// PGlite has one session for every request, so these tests check that a tenant scope ends with
// its transaction and that no other query runs inside it.

let db: Database;
let tenantTables: string[];
let acme: SeededTenant;

async function currentSetting(): Promise<string> {
  const { rows } = await db.query<{ value: string | null }>(
    "SELECT current_setting('mindweave.org_id', true) AS value",
  );
  return rows[0]?.value ?? '';
}

beforeAll(async () => {
  db = await openMemoryDatabase();
  await migrate(db);
  acme = await seedTenant(db, 'Acme');
  await seedTenant(db, 'Globex');
  tenantTables = (await catalogTenantTables(db)).filter((name) => name !== 'security_events');
  // As the server does after migrating: every later query runs as the application role.
  await db.query(`SET ROLE ${APPLICATION_ROLE}`);
}, 60_000);

afterAll(async () => {
  await db?.close();
});

describe('row-level security on embedded PostgreSQL', () => {
  it('returns only the tenant rows inside its scope', async () => {
    for (const table of tenantTables) {
      const column = tenantColumn(table);
      const { rows } = await inTenant(db, acme.orgId, (tx) =>
        tx.query<Record<string, unknown>>(`SELECT * FROM ${table}`),
      );
      const foreign = rows.filter((row) => row[column] !== acme.orgId);
      expect(foreign, `${table} returned rows of another organization`).toEqual([]);
      if ((SEEDED_TENANT_TABLES as readonly string[]).includes(table)) {
        expect(rows.length, `${table} returned none of the tenant's rows`).toBeGreaterThan(0);
      }
    }
  });

  it('returns no rows after the scope commits', async () => {
    await inTenant(db, acme.orgId, (tx) => tx.query('SELECT 1'));
    expect(await currentSetting()).toBe('');
    for (const table of tenantTables) {
      const { rows } = await db.query(`SELECT * FROM ${table}`);
      expect(rows, `${table} returned rows without a tenant scope`).toEqual([]);
    }
  });

  it('returns no rows after the scope rolls back', async () => {
    const failure = inTenant(db, acme.orgId, async (tx) => {
      await tx.query('SELECT 1');
      throw new Error('work failed');
    });
    await expect(failure).rejects.toThrow('work failed');
    expect(await currentSetting()).toBe('');
    expect((await db.query('SELECT * FROM projects')).rows).toEqual([]);
  });

  it('runs a concurrent query only after the scope ends', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inside = 0;
    const scoped = inTenant(db, acme.orgId, async (tx) => {
      const { rows } = await tx.query('SELECT * FROM projects');
      inside = rows.length;
      await gate;
    });
    // Issued while the tenant transaction is open; PGlite queues it until the transaction ends.
    const concurrent = db.query('SELECT * FROM projects');
    release();
    await scoped;
    expect(inside).toBe(1);
    expect((await concurrent).rows).toEqual([]);
  });

  it('rejects an insert of another organization', async () => {
    const insert = inTenant(db, acme.orgId, (tx) =>
      tx.query(`INSERT INTO projects (org_id, name, slug) VALUES ($1, 'Side', 'side')`, [
        randomUUID(),
      ]),
    );
    await expect(insert).rejects.toThrow('row-level security');
  });
});
