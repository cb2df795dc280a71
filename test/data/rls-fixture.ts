import { randomUUID } from 'node:crypto';

import type { Queryable } from '../../src/data/database/database.js';
import { SYSTEM_ACTOR, SYSTEM_CONTEXT } from '../../src/http/request-context.js';
import { buildAuditRecord } from '../../src/monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../src/monitoring/audit/audit.repository.js';
import { generateApiKey } from '../../src/tenancy/api-keys/api-key-secret.js';

/** One seeded organization: a row in each tenant table of 0001-0005, and its key's hash. */
export interface SeededTenant {
  orgId: string;
  userId: string;
  projectId: string;
  apiKeyId: string;
  apiKeyHash: Buffer;
}

/** Tenant tables that `seedTenant` fills, so isolation tests can expect rows in them. */
export const SEEDED_TENANT_TABLES = [
  'organizations',
  'memberships',
  'projects',
  'api_keys',
  'gateway_requests',
  'organization_provider_keys',
  'audit_logs',
] as const;

/**
 * Inserts an organization with an owner, a project, an API key, a gateway call record, a
 * provider key and an audit entry. Run it as the table owner, whom the policies do not bind.
 */
export async function seedTenant(db: Queryable, name: string): Promise<SeededTenant> {
  const orgId = randomUUID();
  const slug = name.toLowerCase();
  await db.query('INSERT INTO organizations (id, name) VALUES ($1, $2)', [orgId, name]);

  const user = await db.query<{ id: string }>(
    `INSERT INTO users (email, name) VALUES ($1, $2) RETURNING id`,
    [`owner-${randomUUID()}@${slug}.test`, `${name} Owner`],
  );
  const userId = user.rows[0]?.id as string;
  await db.query(`INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'owner')`, [
    orgId,
    userId,
  ]);
  const project = await db.query<{ id: string }>(
    `INSERT INTO projects (org_id, name, slug) VALUES ($1, $2, $3) RETURNING id`,
    [orgId, `${name} project`, slug],
  );
  const projectId = project.rows[0]?.id as string;

  const key = generateApiKey();
  const apiKey = await db.query<{ id: string }>(
    `INSERT INTO api_keys (org_id, project_id, name, key_hash, prefix, last_four)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [orgId, projectId, `${name} key`, key.hash, key.prefix, key.lastFour],
  );
  const apiKeyId = apiKey.rows[0]?.id as string;

  await db.query(
    `INSERT INTO gateway_requests (request_id, org_id, project_id, api_key_id, provider, model,
       streamed, status, latency_ms)
     VALUES ($1, $2, $3, $4, 'anthropic', 'claude-sonnet-4-5', false, 200, 10)`,
    [randomUUID(), orgId, projectId, apiKeyId],
  );
  await db.query(
    `INSERT INTO organization_provider_keys (id, org_id, provider, encrypted_key, last_four)
     VALUES ($1, $2, 'anthropic', 'mw1.not-a-real-ciphertext', 'abcd')`,
    [randomUUID(), orgId],
  );
  await appendAuditRecords(db, [
    buildAuditRecord(SYSTEM_ACTOR, SYSTEM_CONTEXT, {
      action: 'organization.create',
      orgId,
      resourceType: 'organization',
      resourceId: orgId,
    }),
  ]);
  return { orgId, userId, projectId, apiKeyId, apiKeyHash: key.hash };
}

/** Appends an audit entry of no organization, as sign-in failures and system actions have. */
export async function seedUnscopedAuditEntry(db: Queryable): Promise<void> {
  await appendAuditRecords(db, [
    buildAuditRecord(SYSTEM_ACTOR, SYSTEM_CONTEXT, { action: 'system.test', orgId: null }),
  ]);
}

/** Returns the policy expression of every tenant table, as PostgreSQL prints it back. */
export function tenantPolicyExpression(column: string): string {
  return (
    `(${column} = (NULLIF(current_setting('mindweave.org_id'::text, true), ''::text))::uuid)`
  );
}

/** Lists tables with an `org_id` column, and `organizations`, from the catalog, without partitions. */
export async function catalogTenantTables(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND (c.relname = 'organizations'
             OR EXISTS (SELECT 1 FROM pg_attribute a
                         WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped))
      ORDER BY c.relname`,
  );
  return rows.map((row) => row.name);
}

/** Returns the column that a tenant table's policy compares with the current organization. */
export function tenantColumn(table: string): string {
  return table === 'organizations' ? 'id' : 'org_id';
}
