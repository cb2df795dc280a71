import { randomBytes, randomUUID } from 'node:crypto';

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database, Queryable } from '../../src/data/database/database.js';
import { migrate } from '../../src/data/database/migrate.js';
import { APPLICATION_ROLE } from '../../src/data/database/open-database.js';
import { openPostgresDatabase } from '../../src/data/database/postgres-database.js';
import { inTenant } from '../../src/data/database/tenant-scope.js';
import { ADMIN_DATABASE_URL, createTestDatabase, type TestDatabase } from '../support/test-database.js';
import {
  catalogTenantTables,
  seedTenant,
  seedUnscopedAuditEntry,
  SEEDED_TENANT_TABLES,
  tenantColumn,
  tenantPolicyExpression,
  type SeededTenant,
} from './rls-fixture.js';

// Tables with an org_id column that are not tenant tables, each with the reason.
const NOT_TENANT_TABLES = new Map([
  [
    'security_events',
    'perimeter events mostly precede authentication, so most rows belong to no organization',
  ],
]);

// Policies allowed besides `<table>_tenant_isolation`. Any other policy could widen access.
const EXTRA_POLICIES = new Map([
  ['audit_logs', [{ name: 'audit_logs_append', cmd: 'INSERT', roles: `{${APPLICATION_ROLE}}` }]],
]);

// The SECURITY DEFINER functions of migration 0007.
const DEFINER_FUNCTIONS = [
  'gateway_api_key_grant(bytea)',
  'tenancy_user_organizations(uuid)',
  'tenancy_admin_exists()',
  'tenancy_organization_ids()',
  'audit_chain_entries(text,bigint,bigint)',
  'audit_chain_entries_after(text,bigint,timestamp with time zone,integer)',
  'audit_chain_max_seq(text)',
  'audit_chain_leaves(text,bigint,bigint)',
];

let database: TestDatabase;
let owner: Database;
let app: Database;
let tenantTables: string[];
let acme: SeededTenant;
let globex: SeededTenant;
const loginRole = `mw_rls_test_${randomBytes(6).toString('hex')}`;

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Resolves to the SQLSTATE of the rejection, or fails when `work` succeeds. */
async function sqlState(work: Promise<unknown>): Promise<string | undefined> {
  const error: unknown = await work.then(
    () => new Error('expected the statement to be rejected'),
    (rejection: unknown) => rejection,
  );
  return (error as { code?: string }).code;
}

beforeAll(async () => {
  database = await createTestDatabase();
  owner = await openPostgresDatabase(database.url, { poolSize: 2 });
  await migrate(owner);
  acme = await seedTenant(owner, 'Acme');
  globex = await seedTenant(owner, 'Globex');
  await seedUnscopedAuditEntry(owner);
  // One connection, so every test also checks that the pooled connection keeps no scope.
  app = await openPostgresDatabase(database.url, { role: APPLICATION_ROLE, poolSize: 1 });
  tenantTables = (await catalogTenantTables(owner)).filter((name) => !NOT_TENANT_TABLES.has(name));
  await adminQuery(`CREATE ROLE ${loginRole} LOGIN IN ROLE ${APPLICATION_ROLE}`);
}, 60_000);

afterAll(async () => {
  await app?.close();
  await owner?.close();
  await database?.drop();
  await adminQuery(`DROP ROLE IF EXISTS ${loginRole}`);
});

describe('tenant table catalog', () => {
  it('finds the seeded tenant tables', () => {
    expect(tenantTables).toEqual(expect.arrayContaining([...SEEDED_TENANT_TABLES]));
  });

  it('has row-level security on every tenant table', async () => {
    const { rows } = await owner.query<{ name: string; enabled: boolean }>(
      `SELECT relname AS name, relrowsecurity AS enabled FROM pg_class
        WHERE relnamespace = 'public'::regnamespace AND relname = ANY($1)`,
      [tenantTables],
    );
    const disabled = rows.filter((row) => !row.enabled).map((row) => row.name);
    expect(disabled).toEqual([]);
    expect(rows).toHaveLength(tenantTables.length);
  });

  it('has the tenant policy on every tenant table', async () => {
    const { rows } = await owner.query<{
      table: string;
      name: string;
      cmd: string;
      permissive: string;
      roles: string;
      qual: string | null;
      check: string | null;
    }>(
      `SELECT tablename AS table, policyname AS name, cmd, permissive, roles::text AS roles,
              qual, with_check AS check
         FROM pg_policies WHERE schemaname = 'public' AND tablename = ANY($1)`,
      [tenantTables],
    );
    for (const table of tenantTables) {
      const expression = tenantPolicyExpression(tenantColumn(table));
      const policies = rows.filter((row) => row.table === table);
      const isolation = policies.find((row) => row.name === `${table}_tenant_isolation`);
      expect(isolation, `${table} has no tenant policy`).toMatchObject({
        cmd: 'ALL',
        permissive: 'PERMISSIVE',
        roles: '{public}',
        qual: expression,
        check: expression,
      });
      const others = policies
        .filter((row) => row !== isolation)
        .map((row) => ({ name: row.name, cmd: row.cmd, roles: row.roles }));
      expect(others, `${table} has other policies`).toEqual(EXTRA_POLICIES.get(table) ?? []);
    }
  });

  it('lets the application role own nothing and bypass nothing', async () => {
    const role = await owner.query<{ bypass: boolean; superuser: boolean }>(
      'SELECT rolbypassrls AS bypass, rolsuper AS superuser FROM pg_roles WHERE rolname = $1',
      [APPLICATION_ROLE],
    );
    expect(role.rows).toEqual([{ bypass: false, superuser: false }]);
    const owned = await owner.query(
      `SELECT relname FROM pg_class WHERE relowner = $1::regrole
        AND relnamespace = 'public'::regnamespace`,
      [APPLICATION_ROLE],
    );
    expect(owned.rows).toEqual([]);
  });

  it('grants nothing on partitions of tenant tables', async () => {
    const { rows } = await owner.query<{ name: string; privileged: boolean }>(
      `SELECT c.relname AS name,
              has_table_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, DELETE') AS privileged
         FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
        WHERE i.inhparent::regclass::text = ANY($2)`,
      [APPLICATION_ROLE, tenantTables],
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((row) => row.privileged)).toEqual([]);
  });
});

describe('queries without the tenant filter', () => {
  it('return only the tenant rows inside its scope', async () => {
    for (const table of tenantTables) {
      const column = tenantColumn(table);
      const { rows } = await inTenant(app, acme.orgId, (tx) =>
        tx.query<Record<string, unknown>>(`SELECT * FROM ${table}`),
      );
      const foreign = rows.filter((row) => row[column] !== acme.orgId);
      expect(foreign, `${table} returned rows of another organization`).toEqual([]);
      if ((SEEDED_TENANT_TABLES as readonly string[]).includes(table)) {
        expect(rows.length, `${table} returned none of the tenant's rows`).toBeGreaterThan(0);
      }
    }
  });

  it('return no rows outside any tenant scope', async () => {
    for (const table of tenantTables) {
      const { rows } = await app.query(`SELECT * FROM ${table}`);
      expect(rows, `${table} returned rows without a tenant scope`).toEqual([]);
    }
  });

  it('leave the other tenant rows in place for the owner', async () => {
    for (const table of SEEDED_TENANT_TABLES) {
      const { rows } = await owner.query(
        `SELECT 1 FROM ${table} WHERE ${tenantColumn(table)} = $1`,
        [globex.orgId],
      );
      expect(rows.length, `${table} has no row of the other organization`).toBeGreaterThan(0);
    }
  });

  it('hide audit entries of no organization', async () => {
    const { rows } = await inTenant(app, acme.orgId, (tx) =>
      tx.query('SELECT seq FROM audit_logs WHERE org_id IS NULL'),
    );
    expect(rows).toEqual([]);
  });

  it('return nothing through a join to another tenant', async () => {
    const { rows } = await inTenant(app, acme.orgId, (tx) =>
      tx.query(
        `SELECT k.id FROM api_keys k JOIN projects p ON p.id = k.project_id
          WHERE p.id = $1`,
        [globex.projectId],
      ),
    );
    expect(rows).toEqual([]);
  });
});

describe('writes to another organization', () => {
  const inAcme = <T>(work: (tx: Queryable) => Promise<T>) => inTenant(app, acme.orgId, work);

  it('reject inserts of its rows', async () => {
    const inserts: [string, (tx: Queryable) => Promise<unknown>][] = [
      [
        'organizations',
        (tx) => tx.query(`INSERT INTO organizations (id, name) VALUES ($1, 'Initech')`, [
          randomUUID(),
        ]),
      ],
      [
        'memberships',
        (tx) =>
          tx.query(`INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'viewer')`, [
            globex.orgId,
            acme.userId,
          ]),
      ],
      [
        'projects',
        (tx) =>
          tx.query(`INSERT INTO projects (org_id, name, slug) VALUES ($1, 'Side', 'side')`, [
            globex.orgId,
          ]),
      ],
      [
        'api_keys',
        (tx) =>
          tx.query(
            `INSERT INTO api_keys (org_id, project_id, name, key_hash, prefix, last_four)
             VALUES ($1, $2, 'planted', $3, 'mw_live_', 'abcd')`,
            [globex.orgId, globex.projectId, randomBytes(32)],
          ),
      ],
      [
        'gateway_requests',
        (tx) =>
          tx.query(
            `INSERT INTO gateway_requests (request_id, org_id, project_id, api_key_id, provider,
               model, streamed, status, latency_ms)
             VALUES ($1, $2, $3, $4, 'openai', 'gpt-4o-mini', false, 200, 1)`,
            [randomUUID(), globex.orgId, globex.projectId, globex.apiKeyId],
          ),
      ],
      [
        'organization_provider_keys',
        (tx) =>
          tx.query(
            `INSERT INTO organization_provider_keys (id, org_id, provider, encrypted_key, last_four)
             VALUES ($1, $2, 'openai', 'mw1.planted', 'wxyz')`,
            [randomUUID(), globex.orgId],
          ),
      ],
    ];
    for (const [table, insert] of inserts) {
      expect(await sqlState(inAcme(insert)), `insert into ${table}`).toBe('42501');
    }
  });

  it('reject moving a row to it', async () => {
    const state = await sqlState(
      inAcme((tx) =>
        tx.query('UPDATE projects SET org_id = $1 WHERE id = $2', [
          globex.orgId,
          acme.projectId,
        ]),
      ),
    );
    expect(state).toBe('42501');
  });

  it('update and delete none of its rows', async () => {
    const updated = await inAcme((tx) => tx.query(`UPDATE projects SET name = 'Renamed'`));
    expect(updated.rowCount).toBe(1);
    const deleted = await inAcme((tx) => tx.query('DELETE FROM organization_provider_keys'));
    expect(deleted.rowCount).toBe(1);
    const globexRows = await owner.query<{ name: string }>(
      `SELECT p.name FROM projects p WHERE p.org_id = $1
        AND EXISTS (SELECT 1 FROM organization_provider_keys k WHERE k.org_id = p.org_id)`,
      [globex.orgId],
    );
    expect(globexRows.rows).toEqual([{ name: 'Globex project' }]);
  });

  it('reject inserts outside any tenant scope', async () => {
    const state = await sqlState(
      app.query(`INSERT INTO projects (org_id, name, slug) VALUES ($1, 'Loose', 'loose')`, [
        acme.orgId,
      ]),
    );
    expect(state).toBe('42501');
  });
});

describe('tenant scope', () => {
  const currentSetting = async () =>
    (await app.query<{ value: string | null }>(
      "SELECT current_setting('mindweave.org_id', true) AS value",
    )).rows[0]?.value ?? '';

  it('ends with its transaction on a pooled connection', async () => {
    await inTenant(app, acme.orgId, (tx) => tx.query('SELECT 1'));
    expect(await currentSetting()).toBe('');
    expect((await app.query('SELECT * FROM projects')).rows).toEqual([]);
  });

  it('ends when its transaction rolls back', async () => {
    const failure = inTenant(app, acme.orgId, async (tx) => {
      await tx.query('SELECT 1');
      throw new Error('work failed');
    });
    await expect(failure).rejects.toThrow('work failed');
    expect(await currentSetting()).toBe('');
  });

  it('rejects an organization id that is not a UUID', async () => {
    await expect(inTenant(app, "x', true); SELECT ('", () => Promise.resolve())).rejects.toThrow(
      'invalid organization id',
    );
  });
});

describe('application role', () => {
  it('cannot disable row-level security or drop a policy', async () => {
    expect(await sqlState(app.query('ALTER TABLE projects DISABLE ROW LEVEL SECURITY'))).toBe(
      '42501',
    );
    expect(await sqlState(app.query('ALTER TABLE projects NO FORCE ROW LEVEL SECURITY'))).toBe(
      '42501',
    );
    expect(await sqlState(app.query('DROP POLICY projects_tenant_isolation ON projects'))).toBe(
      '42501',
    );
  });

  it('cannot turn row security off for its queries', async () => {
    const state = await sqlState(
      inTenant(app, acme.orgId, async (tx) => {
        await tx.query('SET LOCAL row_security = off');
        return tx.query('SELECT * FROM projects');
      }),
    );
    expect(state).toBe('42501');
  });

  it('cannot switch to the owning role from its own login', async () => {
    const tableOwner = await owner.query<{ name: string }>(
      "SELECT relowner::regrole::text AS name FROM pg_class WHERE oid = 'projects'::regclass",
    );
    const url = new URL(database.url);
    url.username = loginRole;
    const login = await openPostgresDatabase(url.toString(), { role: APPLICATION_ROLE });
    try {
      const name = tableOwner.rows[0]?.name as string;
      expect(await sqlState(login.query(`SET ROLE ${name}`))).toBe('42501');
      expect(await sqlState(login.query(`SET SESSION AUTHORIZATION ${name}`))).toBe('42501');
      await login.query('RESET ROLE');
      expect((await login.query('SELECT * FROM projects')).rows).toEqual([]);
    } finally {
      await login.close();
    }
  });
});

describe('SECURITY DEFINER functions', () => {
  it('run as the owner with a fixed search_path and no PUBLIC grant', async () => {
    const { rows } = await owner.query<{
      name: string;
      definer: boolean;
      config: string[] | null;
      owner: string;
      publicGrants: number;
      appMayRun: boolean;
    }>(
      `SELECT p.oid::regprocedure::text AS name, p.prosecdef AS definer, p.proconfig AS config,
              p.proowner::regrole::text AS owner,
              (SELECT count(*)::int FROM aclexplode(p.proacl) acl WHERE acl.grantee = 0)
                AS "publicGrants",
              has_function_privilege($1, p.oid, 'EXECUTE') AS "appMayRun"
         FROM pg_proc p WHERE p.oid::regprocedure::text = ANY($2)`,
      [APPLICATION_ROLE, DEFINER_FUNCTIONS],
    );
    expect(rows.map((row) => row.name).sort()).toEqual([...DEFINER_FUNCTIONS].sort());
    for (const row of rows) {
      expect(row, row.name).toMatchObject({ definer: true, publicGrants: 0, appMayRun: true });
      expect(row.config, row.name).toEqual(['search_path=public, pg_temp']);
      expect(row.owner, row.name).not.toBe(APPLICATION_ROLE);
    }
  });

  it('all have a fixed search_path, whichever migration added them', async () => {
    const { rows } = await owner.query<{ name: string }>(
      `SELECT p.oid::regprocedure::text AS name FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef
          AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')`,
    );
    expect(rows).toEqual([]);
  });

  it('return only the presented API key', async () => {
    const { rows } = await app.query<{ id: string; orgId: string; projectStatus: string }>(
      `SELECT (g.api_key).id, (g.api_key).org_id AS "orgId", g.project_status AS "projectStatus"
         FROM gateway_api_key_grant($1) g`,
      [acme.apiKeyHash],
    );
    expect(rows).toEqual([{ id: acme.apiKeyId, orgId: acme.orgId, projectStatus: 'active' }]);
    const unknown = await app.query('SELECT * FROM gateway_api_key_grant($1)', [randomBytes(32)]);
    expect(unknown.rows).toEqual([]);
  });

  it('ignore a temporary table of the same name', async () => {
    const { rows } = await app.transaction(async (tx) => {
      await tx.query('CREATE TEMP TABLE api_keys (LIKE public.api_keys INCLUDING DEFAULTS) ON COMMIT DROP');
      await tx.query(`INSERT INTO pg_temp.api_keys (id, org_id, project_id, name, key_hash,
        prefix, last_four) VALUES ($1, $2, $3, 'fake', $4, 'mw_live_', 'zzzz')`, [
        randomUUID(),
        globex.orgId,
        globex.projectId,
        acme.apiKeyHash,
      ]);
      return tx.query<{ orgId: string }>(
        'SELECT (g.api_key).org_id AS "orgId" FROM gateway_api_key_grant($1) g',
        [acme.apiKeyHash],
      );
    });
    expect(rows).toEqual([{ orgId: acme.orgId }]);
  });

  it("return only the user's own organizations", async () => {
    const organizations = (userId: string) =>
      app.query<{ id: string; role: string }>(
        'SELECT (u.organization).id, u.role FROM tenancy_user_organizations($1) u',
        [userId],
      );
    expect((await organizations(acme.userId)).rows).toEqual([{ id: acme.orgId, role: 'owner' }]);
    expect((await organizations(globex.userId)).rows).toEqual([
      { id: globex.orgId, role: 'owner' },
    ]);
  });

  it('return organization ids and whether an admin exists', async () => {
    const ids = await app.query<{ id: string }>('SELECT id FROM tenancy_organization_ids() AS id');
    expect(ids.rows.map((row) => row.id)).toEqual([acme.orgId, globex.orgId]);
    const admin = await app.query<{ exists: boolean }>('SELECT tenancy_admin_exists() AS exists');
    expect(admin.rows).toEqual([{ exists: true }]);
  });

  it('read the whole audit chain', async () => {
    const max = await app.query<{ max: number }>("SELECT audit_chain_max_seq('main') AS max");
    expect(max.rows).toEqual([{ max: 3 }]);
    const entries = await app.query<{ seq: number; orgId: string | null }>(
      `SELECT seq, org_id AS "orgId" FROM audit_chain_entries('main', 0, 3)`,
    );
    expect(entries.rows).toEqual([
      { seq: 1, orgId: acme.orgId },
      { seq: 2, orgId: globex.orgId },
      { seq: 3, orgId: null },
    ]);
    const after = await app.query<{ seq: number }>(
      `SELECT seq FROM audit_chain_entries_after('main', 1, 'infinity', 1)`,
    );
    expect(after.rows).toEqual([{ seq: 2 }]);
    const leaves = await app.query<{ seq: number; leaf: Buffer }>(
      `SELECT seq, leaf_hash AS leaf FROM audit_chain_leaves('main', 1, 3)`,
    );
    expect(leaves.rows.map((row) => row.seq)).toEqual([2, 3]);
    for (const row of leaves.rows) expect(row.leaf).toHaveLength(32);
  });
});
