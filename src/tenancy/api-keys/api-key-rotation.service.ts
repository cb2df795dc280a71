import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import type { Scope } from '../projects/project.service.js';
import { assertCanMintScopes, assertWithinMintingKey, type KeyGrantor } from './api-key-grant.js';
import { generateApiKey, maskApiKey } from './api-key-secret.js';
import { findApiKey, markApiKeyRotated, type ApiKey } from './api-key.repository.js';
import { DEFAULT_ROTATION_OVERLAP_SECONDS, type RotateApiKeyInput } from './api-key.schema.js';
import { insertKeyForProject, type CreatedApiKey } from './api-key.service.js';

/** A rotation's outcome: the new key with its secret (shown once) and the old key's end. */
export interface RotatedApiKey extends CreatedApiKey {
  previous: ApiKey;
}

function assertRotatable(key: ApiKey | null, projectId: string, now: number): ApiKey {
  if (!key || key.projectId !== projectId) throw new AppError('not_found');
  if (key.revokedAt) throw new AppError('conflict', 'Cannot rotate a revoked key');
  if (key.replacedBy) {
    throw new AppError(
      'conflict',
      `Key was already rotated; rotate its successor ${key.replacedBy}`,
    );
  }
  if (key.expiresAt && key.expiresAt.getTime() <= now) {
    throw new AppError('conflict', 'Cannot rotate an expired key');
  }
  return key;
}

/**
 * Replaces a key with a new one that has the same name, scopes and limits. The old key keeps
 * working for `overlapSeconds` (one hour by default), so clients can switch without an outage,
 * and then expires. The grantor must be able to mint the key's scopes, because the new secret
 * carries them.
 */
export async function rotateApiKey(
  db: Database,
  scope: Scope,
  target: { projectId: string; keyId: string },
  input: RotateApiKeyInput,
  grantor: KeyGrantor,
): Promise<RotatedApiKey> {
  const generated = generateApiKey();
  const now = Date.now();
  const overlapEndsAt = new Date(
    now + (input.overlapSeconds ?? DEFAULT_ROTATION_OVERLAP_SECONDS) * 1000,
  );
  return inTenant(db, scope.orgId, async (tx) => {
    const old = assertRotatable(
      await findApiKey(tx, scope.orgId, target.keyId),
      target.projectId,
      now,
    );
    assertCanMintScopes(grantor, old.scopes);
    const expiresAt = input.expiresAt ?? old.expiresAt;
    assertWithinMintingKey(grantor, old.scopes, expiresAt);
    const key = await insertKeyForProject(tx, generated, {
      orgId: scope.orgId,
      projectId: old.projectId,
      name: old.name,
      createdBy: grantor.creatorId,
      expiresAt,
      scopes: old.scopes,
      requestLimit: old.requestLimit,
      tokenLimit: old.tokenLimit,
    });
    const previous = await markApiKeyRotated(tx, {
      orgId: scope.orgId,
      keyId: old.id,
      replacedBy: key.id,
      overlapEndsAt,
    });
    // A concurrent rotation or revocation got there first; this transaction rolls back.
    if (!previous) throw new AppError('conflict', 'Key was rotated or revoked meanwhile');
    await appendAuditRecords(tx, [
      buildAuditRecord(scope.actor, scope.context, {
        action: 'api_key.rotated',
        orgId: scope.orgId,
        projectId: old.projectId,
        resourceType: 'api_key',
        resourceId: old.id,
        oldValues: { key: maskApiKey(old.prefix, old.lastFour) },
        newValues: {
          key: maskApiKey(key.prefix, key.lastFour),
          keyId: key.id,
          oldKeyExpiresAt: previous.expiresAt?.toISOString() ?? null,
        },
        sensitivity: 'sensitive',
      }),
    ]);
    return { key, secret: generated.secret, previous };
  });
}
