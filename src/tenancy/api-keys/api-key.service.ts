import type { Database } from '../../data/database/database.js';
import { AppError } from '../../http/errors.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { findProject } from '../projects/project.repository.js';
import type { Scope } from '../projects/project.service.js';
import { generateApiKey, maskApiKey } from './api-key-secret.js';
import { findApiKey, insertApiKey, revokeApiKey, type ApiKey } from './api-key.repository.js';
import type { CreateApiKeyInput } from './api-key.schema.js';

/** A created key with its secret, which is returned to the caller once and never again. */
export interface CreatedApiKey {
  key: ApiKey;
  secret: string;
}

/** Creates a key for an active project of the organization, with its audit entry. */
export async function createApiKey(
  db: Database,
  scope: Scope,
  projectId: string,
  input: CreateApiKeyInput,
): Promise<CreatedApiKey> {
  const generated = generateApiKey();
  return db.transaction(async (tx) => {
    const project = await findProject(tx, scope.orgId, projectId);
    if (!project) throw new AppError('not_found');
    if (project.status !== 'active') {
      throw new AppError('conflict', 'Cannot create a key for an archived project');
    }
    const key = await insertApiKey(tx, {
      orgId: scope.orgId,
      projectId,
      name: input.name,
      hash: generated.hash,
      prefix: generated.prefix,
      lastFour: generated.lastFour,
      createdBy: scope.actor.type === 'user' ? scope.actor.id : null,
      expiresAt: input.expiresAt ?? null,
    });
    await appendAuditRecords(tx, [
      buildAuditRecord(scope.actor, scope.context, {
        action: 'api_key.created',
        orgId: scope.orgId,
        projectId,
        resourceType: 'api_key',
        resourceId: key.id,
        newValues: {
          name: key.name,
          key: maskApiKey(key.prefix, key.lastFour),
          expiresAt: key.expiresAt?.toISOString() ?? null,
        },
        sensitivity: 'sensitive',
      }),
    ]);
    return { key, secret: generated.secret };
  });
}

/** Revokes a key of the project; gateway caches drop it within one second. */
export async function revokeKey(
  db: Database,
  scope: Scope,
  projectId: string,
  keyId: string,
): Promise<ApiKey> {
  return db.transaction(async (tx) => {
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
