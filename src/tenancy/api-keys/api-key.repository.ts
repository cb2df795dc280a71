import type { Queryable } from '../../data/database/database.js';
import type { ProjectSettings } from '../projects/project.schema.js';

/** An API key's metadata; the secret itself is never stored. */
export interface ApiKey {
  id: string;
  orgId: string;
  projectId: string;
  name: string;
  prefix: string;
  lastFour: string;
  createdBy: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const COLUMNS = `id, org_id AS "orgId", project_id AS "projectId", name, prefix,
  last_four AS "lastFour", created_by AS "createdBy", created_at AS "createdAt",
  expires_at AS "expiresAt", revoked_at AS "revokedAt", last_used_at AS "lastUsedAt"`;

export async function insertApiKey(
  db: Queryable,
  key: {
    orgId: string;
    projectId: string;
    name: string;
    hash: Buffer;
    prefix: string;
    lastFour: string;
    createdBy: string | null;
    expiresAt: Date | null;
  },
): Promise<ApiKey> {
  const result = await db.query<ApiKey>(
    `INSERT INTO api_keys (org_id, project_id, name, key_hash, prefix, last_four, created_by,
                           expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
    [
      key.orgId,
      key.projectId,
      key.name,
      key.hash,
      key.prefix,
      key.lastFour,
      key.createdBy,
      key.expiresAt,
    ],
  );
  return result.rows[0] as ApiKey;
}

export async function listApiKeys(
  db: Queryable,
  orgId: string,
  projectId?: string,
): Promise<ApiKey[]> {
  const result = await db.query<ApiKey>(
    `SELECT ${COLUMNS} FROM api_keys
      WHERE org_id = $1 AND ($2::uuid IS NULL OR project_id = $2)
      ORDER BY created_at, id`,
    [orgId, projectId ?? null],
  );
  return result.rows;
}

export async function findApiKey(
  db: Queryable,
  orgId: string,
  keyId: string,
): Promise<ApiKey | null> {
  const result = await db.query<ApiKey>(
    `SELECT ${COLUMNS} FROM api_keys WHERE org_id = $1 AND id = $2`,
    [orgId, keyId],
  );
  return result.rows[0] ?? null;
}

/** Sets `revoked_at` once; revoking a revoked key keeps its first revocation time. */
export async function revokeApiKey(db: Queryable, orgId: string, keyId: string): Promise<ApiKey> {
  const result = await db.query<ApiKey>(
    `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
      WHERE org_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [orgId, keyId],
  );
  return result.rows[0] as ApiKey;
}

/** The key, its project and organization as the gateway needs them, found by key hash. */
export interface ApiKeyGrant {
  keyId: string;
  orgId: string;
  projectId: string;
  prefix: string;
  lastFour: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  projectStatus: 'active' | 'archived';
  orgStatus: 'active' | 'disabled';
  settings: ProjectSettings;
}

export async function findApiKeyGrant(db: Queryable, hash: Buffer): Promise<ApiKeyGrant | null> {
  const result = await db.query<ApiKeyGrant>(
    `SELECT k.id AS "keyId", k.org_id AS "orgId", k.project_id AS "projectId", k.prefix,
            k.last_four AS "lastFour", k.expires_at AS "expiresAt", k.revoked_at AS "revokedAt",
            p.status AS "projectStatus", o.status AS "orgStatus", p.settings
       FROM api_keys k
       JOIN projects p ON p.id = k.project_id
       JOIN organizations o ON o.id = k.org_id
      WHERE k.key_hash = $1`,
    [hash],
  );
  return result.rows[0] ?? null;
}

/** Records use of keys; called in batches, at most once a minute per key. */
export async function touchApiKeys(db: Queryable, keyIds: string[]): Promise<void> {
  if (keyIds.length === 0) return;
  await db.query('UPDATE api_keys SET last_used_at = now() WHERE id = ANY($1::uuid[])', [keyIds]);
}
