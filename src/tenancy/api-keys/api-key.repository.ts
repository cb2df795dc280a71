import type { ApiKeyScope } from '../../application/authorization/api-key-scopes.js';
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
  scopes: ApiKeyScope[];
  /** Requests per request window, replacing the server's per-key limit when lower; null keeps it. */
  requestLimit: number | null;
  /** Tokens per token window, replacing the server's per-key limit when lower; null keeps it. */
  tokenLimit: number | null;
  /** The key that replaced this one in a rotation. */
  replacedBy: string | null;
  rotatedAt: Date | null;
}

const COLUMNS = `id, org_id AS "orgId", project_id AS "projectId", name, prefix,
  last_four AS "lastFour", created_by AS "createdBy", created_at AS "createdAt",
  expires_at AS "expiresAt", revoked_at AS "revokedAt", last_used_at AS "lastUsedAt", scopes,
  request_limit AS "requestLimit", token_limit AS "tokenLimit", replaced_by AS "replacedBy",
  rotated_at AS "rotatedAt"`;

/** The fields of a new key; the secret is represented only by its hash. */
export interface NewApiKey {
  orgId: string;
  projectId: string;
  name: string;
  hash: Buffer;
  prefix: string;
  lastFour: string;
  createdBy: string | null;
  expiresAt: Date | null;
  scopes?: ApiKeyScope[];
  requestLimit?: number | null;
  tokenLimit?: number | null;
}

export async function insertApiKey(db: Queryable, key: NewApiKey): Promise<ApiKey> {
  const result = await db.query<ApiKey>(
    `INSERT INTO api_keys (org_id, project_id, name, key_hash, prefix, last_four, created_by,
                           expires_at, scopes, request_limit, token_limit)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${COLUMNS}`,
    [
      key.orgId,
      key.projectId,
      key.name,
      key.hash,
      key.prefix,
      key.lastFour,
      key.createdBy,
      key.expiresAt,
      key.scopes ?? ['gateway'],
      key.requestLimit ?? null,
      key.tokenLimit ?? null,
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

/**
 * Marks `keyId` as replaced by `replacedBy` and ends it at `overlapEndsAt`, or at its own
 * expiry when that comes first. Only a key that is not revoked and not yet rotated changes.
 */
export async function markApiKeyRotated(
  db: Queryable,
  change: { orgId: string; keyId: string; replacedBy: string; overlapEndsAt: Date },
): Promise<ApiKey | null> {
  const result = await db.query<ApiKey>(
    `UPDATE api_keys
        SET replaced_by = $3, rotated_at = now(),
            expires_at = LEAST(COALESCE(expires_at, $4::timestamptz), $4::timestamptz)
      WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL AND replaced_by IS NULL
      RETURNING ${COLUMNS}`,
    [change.orgId, change.keyId, change.replacedBy, change.overlapEndsAt],
  );
  return result.rows[0] ?? null;
}

/**
 * The key, its project, organization and creator as the gateway and the admin API need them,
 * found by key hash.
 */
export interface ApiKeyGrant {
  keyId: string;
  orgId: string;
  projectId: string;
  prefix: string;
  lastFour: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  scopes: ApiKeyScope[];
  requestLimit: number | null;
  tokenLimit: number | null;
  /** The creator, when known and still an active user; admin scopes act within their rights. */
  activeCreatorId: string | null;
  projectStatus: 'active' | 'archived';
  orgStatus: 'active' | 'disabled';
  settings: ProjectSettings;
}

/**
 * Finds a key by hash before its organization is known, through the SECURITY DEFINER function
 * `gateway_api_key_grant`, which returns the key's row with its project and organization in
 * one round trip; row-level security would hide the key from a plain query.
 */
export async function findApiKeyGrant(db: Queryable, hash: Buffer): Promise<ApiKeyGrant | null> {
  const result = await db.query<ApiKeyGrant>(
    `SELECT (g.api_key).id AS "keyId", (g.api_key).org_id AS "orgId",
            (g.api_key).project_id AS "projectId", (g.api_key).prefix,
            (g.api_key).last_four AS "lastFour", (g.api_key).expires_at AS "expiresAt",
            (g.api_key).revoked_at AS "revokedAt", (g.api_key).scopes,
            (g.api_key).request_limit AS "requestLimit", (g.api_key).token_limit AS "tokenLimit",
            CASE WHEN u.status = 'active' THEN u.id END AS "activeCreatorId",
            g.project_status AS "projectStatus", g.org_status AS "orgStatus",
            g.project_settings AS settings
       FROM gateway_api_key_grant($1) g
       LEFT JOIN users u ON u.id = (g.api_key).created_by`,
    [hash],
  );
  return result.rows[0] ?? null;
}

/** Records use of keys of one organization; called in batches, at most once a minute per key. */
export async function touchApiKeys(db: Queryable, orgId: string, keyIds: string[]): Promise<void> {
  if (keyIds.length === 0) return;
  await db.query(
    'UPDATE api_keys SET last_used_at = now() WHERE org_id = $1 AND id = ANY($2::uuid[])',
    [orgId, keyIds],
  );
}
