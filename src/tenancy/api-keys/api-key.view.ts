import { maskApiKey } from './api-key-secret.js';
import type { ApiKey } from './api-key.repository.js';

/** The public form of a key: metadata and the masked key, never the secret or its hash. */
export function apiKeyView(key: ApiKey, now = Date.now()) {
  const status = key.revokedAt
    ? 'revoked'
    : key.expiresAt && key.expiresAt.getTime() <= now
      ? 'expired'
      : 'active';
  return {
    id: key.id,
    projectId: key.projectId,
    name: key.name,
    maskedKey: maskApiKey(key.prefix, key.lastFour),
    status,
    scopes: key.scopes,
    requestLimit: key.requestLimit,
    tokenLimit: key.tokenLimit,
    createdAt: key.createdAt.toISOString(),
    expiresAt: key.expiresAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    replacedBy: key.replacedBy,
    rotatedAt: key.rotatedAt?.toISOString() ?? null,
  };
}
