import { randomUUID } from 'node:crypto';

import type { Logger } from 'pino';

import { KeyStateError } from '../../data/crypto/errors.js';
import type { FieldCipher } from '../../data/crypto/field-cipher.js';
import type { FieldLocation } from '../../data/crypto/field-context.js';
import { LruCache } from '../../data/crypto/lru-cache.js';
import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import type { Actor, RequestContext } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import {
  deleteProviderKey,
  findProviderKey,
  listProviderKeys,
  upsertProviderKey,
  type ProviderKeySummary,
} from './provider-key.repository.js';
import type { ProviderName } from './provider-key.schema.js';

/** Table and column whose ciphertexts this service writes, bound into each ciphertext's AAD. */
export const PROVIDER_KEY_TABLE = 'organization_provider_keys';
export const PROVIDER_KEY_COLUMN = 'encrypted_key';

/** Bounds of the cache of decrypted provider keys. */
export interface ProviderKeyCacheOptions {
  /** Maximum cached (organization, provider) pairs. Defaults to 1000. */
  maxEntries?: number;
  /** Time a decrypted key (or the absence of one) stays cached, in milliseconds. Defaults to 60 s. */
  ttlMs?: number;
}

/** Actor, request context and organization of a provider key change. */
export interface ProviderKeyScope {
  actor: Actor;
  context: RequestContext;
  orgId: string;
}

/** A stored provider key as the admin API returns it: never the key, only its last four. */
export interface ProviderKeyView {
  provider: ProviderName;
  lastFour: string;
  createdAt: string;
  updatedAt: string;
}

/** Looks up the provider key that gateway calls of an organization use. */
export interface ProviderKeyResolver {
  /** Returns the organization's stored key, or undefined when it has none for `provider`. */
  resolve(orgId: string, provider: ProviderName): Promise<string | undefined>;
}

// A concurrent first write of the same provider key makes an attempt lose the race once. Three
// attempts cover that, and a further failure points to something else.
const MAX_WRITE_ATTEMPTS = 3;

export function providerKeyView(key: ProviderKeySummary): ProviderKeyView {
  return {
    provider: key.provider,
    lastFour: key.lastFour,
    createdAt: new Date(key.createdAt).toISOString(),
    updatedAt: new Date(key.updatedAt).toISOString(),
  };
}

/** Returns the field location of a provider key row, so the ciphertext is bound to that row. */
export function providerKeyLocation(orgId: string, rowId: string): FieldLocation {
  return { tenant: orgId, table: PROVIDER_KEY_TABLE, column: PROVIDER_KEY_COLUMN, rowId };
}

function actorName(actor: Actor): string {
  return actor.type === 'system' ? 'system' : `${actor.type}:${actor.id}`;
}

/**
 * Stores provider API keys per organization, encrypted with the field cipher under the
 * organization's data key, and resolves them for the gateway through a bounded in-memory cache.
 *
 * The cache contains decrypted keys as JavaScript strings, which cannot be zeroed, so a cached key
 * stays in memory until garbage collection. A change made in this process clears its cache
 * entry at once. Other server processes see it after at most the cache TTL.
 */
export class ProviderKeyService implements ProviderKeyResolver {
  readonly #db: Database;
  readonly #cipher: FieldCipher;
  readonly #logger: Logger;
  readonly #cache: LruCache<string, { apiKey: string | undefined }>;

  constructor(
    db: Database,
    cipher: FieldCipher,
    logger: Logger,
    cache: ProviderKeyCacheOptions = {},
  ) {
    this.#db = db;
    this.#cipher = cipher;
    this.#logger = logger;
    this.#cache = new LruCache({
      maxEntries: cache.maxEntries ?? 1000,
      ttlMs: cache.ttlMs ?? 60_000,
    });
  }

  async list(orgId: string): Promise<ProviderKeyView[]> {
    const keys = await inTenant(this.#db, orgId, (tx) => listProviderKeys(tx, orgId));
    return keys.map(providerKeyView);
  }

  /**
   * Encrypts and stores `apiKey` for the organization, replacing an earlier key of the same
   * provider, and appends an audit entry that shows only the last four characters.
   */
  async put(
    scope: ProviderKeyScope,
    provider: ProviderName,
    apiKey: string,
  ): Promise<{ key: ProviderKeyView; created: boolean }> {
    const lastFour = apiKey.slice(-4);
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt += 1) {
      // Encryption runs before the transaction: it may create the organization's data key, which
      // writes through the database, and PGlite runs nothing else while a transaction is open.
      const existing = await inTenant(this.#db, scope.orgId, (tx) =>
        findProviderKey(tx, scope.orgId, provider),
      );
      const rowId = existing?.id ?? randomUUID();
      const encryptedKey = await this.#encryptForWrite(scope, rowId, apiKey);
      const stored = await inTenant(this.#db, scope.orgId, async (tx) => {
        const row = await upsertProviderKey(tx, {
          id: rowId,
          orgId: scope.orgId,
          provider,
          encryptedKey,
          lastFour,
        });
        if (row === undefined) return undefined;
        await appendAuditRecords(tx, [
          buildAuditRecord(scope.actor, scope.context, {
            action: row.created ? 'provider_key.created' : 'provider_key.updated',
            orgId: scope.orgId,
            resourceType: 'provider_key',
            resourceId: row.id,
            oldValues: existing ? { provider, lastFour: existing.lastFour } : null,
            newValues: { provider, lastFour },
            sensitivity: 'critical',
          }),
        ]);
        return row;
      });
      if (stored !== undefined) {
        this.#cache.delete(cacheKey(scope.orgId, provider));
        return { key: providerKeyView(stored), created: stored.created };
      }
    }
    throw new AppError(
      'conflict',
      `The ${provider} provider key changed during ${MAX_WRITE_ATTEMPTS} attempts; try again`,
    );
  }

  /**
   * Encrypts a provider key for the row `rowId`.
   *
   * @throws AppError `conflict` when the organization's data key has no active version, because
   * its deletion is scheduled and nothing new may be encrypted under it.
   */
  async #encryptForWrite(scope: ProviderKeyScope, rowId: string, apiKey: string): Promise<string> {
    try {
      return await this.#cipher.encrypt(providerKeyLocation(scope.orgId, rowId), apiKey, {
        actor: actorName(scope.actor),
      });
    } catch (error) {
      if (!(error instanceof KeyStateError)) throw error;
      throw new AppError(
        'conflict',
        "This organization's data key is scheduled for deletion, so no provider key can be " +
          'stored; ask the operator to cancel the deletion first',
      );
    }
  }

  /** Deletes the organization's key for `provider`, with an audit entry. */
  async delete(scope: ProviderKeyScope, provider: ProviderName): Promise<ProviderKeyView> {
    const deleted = await inTenant(this.#db, scope.orgId, async (tx) => {
      const row = await deleteProviderKey(tx, scope.orgId, provider);
      if (row === undefined)
        throw new AppError('not_found', `No ${provider} provider key is stored`);
      await appendAuditRecords(tx, [
        buildAuditRecord(scope.actor, scope.context, {
          action: 'provider_key.deleted',
          orgId: scope.orgId,
          resourceType: 'provider_key',
          resourceId: row.id,
          oldValues: { provider, lastFour: row.lastFour },
          sensitivity: 'critical',
        }),
      ]);
      return row;
    });
    this.#cache.delete(cacheKey(scope.orgId, provider));
    return providerKeyView(deleted);
  }

  /**
   * Returns the organization's decrypted key for `provider`, or undefined when none is stored.
   *
   * @throws AppError `service_unavailable` when the stored key cannot be decrypted, so the call
   * fails instead of silently using the server's own key.
   */
  async resolve(orgId: string, provider: ProviderName): Promise<string | undefined> {
    const id = cacheKey(orgId, provider);
    const cached = this.#cache.get(id);
    if (cached !== undefined) return cached.apiKey;

    const row = await inTenant(this.#db, orgId, (tx) => findProviderKey(tx, orgId, provider));
    let apiKey: string | undefined;
    if (row !== undefined) {
      try {
        apiKey = await this.#cipher.decryptString(
          providerKeyLocation(orgId, row.id),
          row.encryptedKey,
          {
            actor: 'gateway',
          },
        );
      } catch (error) {
        this.#logger.error(
          { err: error, orgId, provider, providerKeyId: row.id },
          'failed to decrypt the stored provider key',
        );
        throw new AppError(
          'service_unavailable',
          `The stored ${provider} provider key of this organization cannot be decrypted; an admin must store it again`,
        );
      }
    }
    this.#cache.set(id, { apiKey });
    return apiKey;
  }

  /** Removes expired entries of the decrypted key cache. */
  purgeExpired(): void {
    this.#cache.purgeExpired();
  }

  /** Empties the decrypted key cache. */
  clearCache(): void {
    this.#cache.clear();
  }
}

function cacheKey(orgId: string, provider: ProviderName): string {
  return `${orgId}/${provider}`;
}
