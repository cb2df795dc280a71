import { hash } from 'node:crypto';

import type { Database } from '../../data/database/database.js';
import { hashApiKey, isApiKeyShape } from '../../tenancy/api-keys/api-key-secret.js';
import { findApiKeyGrant, type ApiKeyGrant } from '../../tenancy/api-keys/api-key.repository.js';
import { TtlLookupCache } from '../../data/cache/ttl-lookup-cache.js';
import { GatewayError } from '../gateway-error.js';

/**
 * Why a key was not accepted. The client sees one message for all reasons that could tell an
 * attacker whether a guessed or stolen key exists, and a specific one only for a valid key of a
 * disabled organization or without the gateway scope.
 */
export type KeyRejection =
  | 'missing'
  | 'malformed'
  | 'unknown'
  | 'revoked'
  | 'expired'
  | 'inactive'
  | 'organization_disabled'
  | 'not_gateway_scope';

export type KeyCheck = { ok: true; grant: ApiKeyGrant } | { ok: false; reason: KeyRejection };

/** Options of the key cache; the TTL bounds how long a revoked key keeps working. */
export interface AuthenticatorOptions {
  cacheTtlMs?: number;
  cacheMaxEntries?: number;
}

/**
 * Verifies gateway API keys. Grants are cached per process for half a second by default, so a
 * key revoked in the database stops working on every server process within one second, query
 * time included, while the database gets about two lookups per key per second and process.
 * Requests that miss while a lookup of their key is under way wait for that lookup.
 */
export class ApiKeyAuthenticator {
  private readonly cache: TtlLookupCache<ApiKeyGrant | null>;

  constructor(
    private readonly db: Database,
    options: AuthenticatorOptions = {},
  ) {
    this.cache = new TtlLookupCache(options.cacheTtlMs ?? 500, options.cacheMaxEntries ?? 10_000);
  }

  /**
   * Checks a presented key. `now` is injectable for tests. `beforeLookup` is awaited before a
   * key that is neither cached nor being looked up goes to the database, and a rejection from
   * it is passed on without a lookup.
   */
  async verify(
    presented: string | undefined,
    now = Date.now(),
    beforeLookup?: () => Promise<void>,
  ): Promise<KeyCheck> {
    if (!presented) return { ok: false, reason: 'missing' };
    if (!isApiKeyShape(presented)) return { ok: false, reason: 'malformed' };

    // The cache key is a one-call SHA-256 of the key, cheaper than building a Hash object on
    // every request. The stored form from hashApiKey is computed only for a database lookup.
    const cacheKey = hash('sha256', presented, 'base64');
    if (beforeLookup && !this.cache.has(cacheKey, now)) await beforeLookup();
    const grant = await this.cache.get(
      cacheKey,
      () => findApiKeyGrant(this.db, hashApiKey(presented)),
      now,
    );
    return judge(grant, now);
  }
}

function judge(grant: ApiKeyGrant | null, now: number): KeyCheck {
  if (!grant) return { ok: false, reason: 'unknown' };
  if (grant.revokedAt) return { ok: false, reason: 'revoked' };
  if (grant.expiresAt && grant.expiresAt.getTime() <= now) return { ok: false, reason: 'expired' };
  if (grant.orgStatus !== 'active') return { ok: false, reason: 'organization_disabled' };
  if (grant.projectStatus !== 'active') return { ok: false, reason: 'inactive' };
  if (!grant.scopes.includes('gateway')) return { ok: false, reason: 'not_gateway_scope' };
  return { ok: true, grant };
}

/** Builds the gateway error for a rejected key, rendered in the called provider's shape. */
export function keyRejectionError(reason: KeyRejection): GatewayError {
  switch (reason) {
    case 'missing':
      return new GatewayError(
        'unauthorized',
        'Missing API key: send it in the x-api-key or Authorization: Bearer header',
      );
    case 'organization_disabled':
      return new GatewayError('organization_disabled', "This API key's organization is disabled");
    case 'not_gateway_scope':
      return new GatewayError(
        'forbidden',
        'This API key has no gateway scope; use a key created with the scope "gateway"',
      );
    default:
      return new GatewayError('unauthorized', 'Invalid API key');
  }
}
