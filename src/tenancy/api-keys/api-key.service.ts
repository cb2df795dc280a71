import type { Database, Queryable } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { findProject } from '../projects/project.repository.js';
import type { Scope } from '../projects/project.service.js';
import {
  assertCanMintScopes,
  assertWithinMintingKey,
  SYSTEM_GRANTOR,
  type KeyGrantor,
} from './api-key-grant.js';
import { generateApiKey, maskApiKey, type GeneratedApiKey } from './api-key-secret.js';
import {
  findApiKey,
  insertApiKey,
  revokeApiKey,
  type ApiKey,
  type NewApiKey,
} from './api-key.repository.js';
import type { CreateApiKeyInput } from './api-key.schema.js';

/** A created key with its secret, which is returned to the caller once and never again. */
export interface CreatedApiKey {
  key: ApiKey;
  secret: string;
}

/** Returns the audited fields of a key: never the secret, only its masked form. */
export function keyAuditValues(key: ApiKey) {
  return {
    name: key.name,
    key: maskApiKey(key.prefix, key.lastFour),
    scopes: key.scopes,
    requestLimit: key.requestLimit,
    tokenLimit: key.tokenLimit,
    expiresAt: key.expiresAt?.toISOString() ?? null,
  };
}

/**
 * Inserts a key into an active project of the organization, in the caller's transaction; the
 * project must exist in the organization.
 */
export async function insertKeyForProject(
  tx: Queryable,
  generated: GeneratedApiKey,
  key: Omit<NewApiKey, 'hash' | 'prefix' | 'lastFour'>,
): Promise<ApiKey> {
  const project = await findProject(tx, key.orgId, key.projectId);
  if (!project) throw new AppError('not_found');
  if (project.status !== 'active') {
    throw new AppError('conflict', 'Cannot create a key for an archived project');
  }
  return insertApiKey(tx, {
    ...key,
    hash: generated.hash,
    prefix: generated.prefix,
    lastFour: generated.lastFour,
  });
}

/**
 * Creates a key for an active project of the organization, with its audit entry. The grantor
 * must hold every permission of the requested scopes.
 */
export async function createApiKey(
  db: Database,
  scope: Scope,
  projectId: string,
  input: CreateApiKeyInput,
  grantor: KeyGrantor = SYSTEM_GRANTOR,
): Promise<CreatedApiKey> {
  const scopes = input.scopes ?? ['gateway'];
  assertCanMintScopes(grantor, scopes);
  assertWithinMintingKey(grantor, scopes, input.expiresAt ?? null);
  const generated = generateApiKey();
  return inTenant(db, scope.orgId, async (tx) => {
    const key = await insertKeyForProject(tx, generated, {
      orgId: scope.orgId,
      projectId,
      name: input.name,
      createdBy: grantor.creatorId,
      expiresAt: input.expiresAt ?? null,
      scopes,
      requestLimit: input.requestLimit ?? null,
      tokenLimit: input.tokenLimit ?? null,
    });
    await appendAuditRecords(tx, [
      buildAuditRecord(scope.actor, scope.context, {
        action: 'api_key.created',
        orgId: scope.orgId,
        projectId,
        resourceType: 'api_key',
        resourceId: key.id,
        newValues: keyAuditValues(key),
        sensitivity: 'sensitive',
      }),
    ]);
    return { key, secret: generated.secret };
  });
}

/**
 * Revokes a key of the project. Admin requests read keys from the database, so they stop at
 * once; gateway caches drop the key within one second.
 */
export async function revokeKey(
  db: Database,
  scope: Scope,
  projectId: string,
  keyId: string,
): Promise<ApiKey> {
  return inTenant(db, scope.orgId, async (tx) => {
    const before = await findApiKey(tx, scope.orgId, keyId);
    if (!before || before.projectId !== projectId) throw new AppError('not_found');
    const after = await revokeApiKey(tx, scope.orgId, keyId);
    if (!before.revokedAt) {
      await appendAuditRecords(tx, [
        buildAuditRecord(scope.actor, scope.context, {
          action: 'api_key.revoked',
          orgId: scope.orgId,
          projectId: after.projectId,
          resourceType: 'api_key',
          resourceId: keyId,
          newValues: { key: maskApiKey(after.prefix, after.lastFour) },
          sensitivity: 'sensitive',
        }),
      ]);
    }
    return after;
  });
}
