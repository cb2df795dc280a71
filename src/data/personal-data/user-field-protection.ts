import type { Logger } from 'pino';

import { BlindIndexer, normalizeForBlindIndex } from '../crypto/blind-index.js';
import type { BlindIndexColumn } from '../crypto/blind-index.js';
import { parseCiphertext } from '../crypto/ciphertext-format.js';
import type { FieldCipher } from '../crypto/field-cipher.js';
import type { FieldLocation } from '../crypto/field-context.js';
import type { KeyHierarchy } from '../crypto/key-hierarchy.js';
import { DecryptionError, KeyNotFoundError, KeyStateError } from '../crypto/errors.js';
import { canDecrypt } from '../crypto/key-lifecycle.js';
import type { KeyOwner, KeyVersionRef } from '../crypto/key-types.js';
import { LruCache } from '../crypto/lru-cache.js';

/**
 * Owner tenant of the platform data key and of the users' own data keys, which cover data that
 * belongs to no single organization (a user can be a member of several organizations).
 * Organization ids are UUIDs, so this name never matches one. The platform key computes the
 * user email blind index and encrypts invitation emails. It also decrypts user fields written
 * before each user had a key of their own, until `mindweave keys reencrypt` moves them.
 */
export const PLATFORM_KEY_TENANT = 'platform';

/** Data subject that owns a user's own data key. */
export function userSubject(userId: string): string {
  return `user:${userId}`;
}

/** Owner of a user's own data key. Destroying that key erases the user's encrypted fields. */
export function userKeyOwner(userId: string): Extract<KeyOwner, { kind: 'subject' }> {
  return { kind: 'subject', tenant: PLATFORM_KEY_TENANT, subject: userSubject(userId) };
}

/** Encrypted columns of the `users` table. */
export type UserField = 'email' | 'name' | 'phone';

/** Column of each encrypted user field. */
export const USER_FIELD_COLUMNS: Record<UserField, string> = {
  email: 'email_encrypted',
  name: 'name_encrypted',
  phone: 'phone_encrypted',
};

const EMAIL_INDEX_COLUMN: BlindIndexColumn = { table: 'users', column: 'email' };
const INVITATION_INDEX_COLUMN: BlindIndexColumn = { table: 'user_invitations', column: 'email' };
const ACTOR = 'user-fields';

/**
 * Bounds of the memory of key versions found destroyed or missing. A destroyed version never
 * becomes usable again, so the time-to-live only bounds memory use.
 */
const UNAVAILABLE_KEYS_MAX_ENTRIES = 10_000;
const UNAVAILABLE_KEYS_TTL_MS = 5 * 60 * 1000;

/** Location of a user's encrypted field, which binds the ciphertext to the user's row. */
export function userFieldLocation(userId: string, field: UserField): FieldLocation {
  return { tenant: PLATFORM_KEY_TENANT, table: 'users', column: USER_FIELD_COLUMNS[field], rowId: userId };
}

/** Location of a user's TOTP secret in `user_totp_factors`. */
export function totpSecretLocation(userId: string): FieldLocation {
  return { tenant: PLATFORM_KEY_TENANT, table: 'user_totp_factors', column: 'secret_sealed', rowId: userId };
}

/** Location of the invitee's email in `user_invitations`. */
export function invitationEmailLocation(invitationId: string): FieldLocation {
  return {
    tenant: PLATFORM_KEY_TENANT,
    table: 'user_invitations',
    column: 'email_encrypted',
    rowId: invitationId,
  };
}

/**
 * Encrypts each user's personal fields and TOTP secret under that user's own data key (owner
 * {@link userKeyOwner}, created on the first write), so that destroying the key erases one person,
 * backups included. Computes the email blind index under the platform data key, because a
 * sign-in looks the email up before the user is known. Ciphertexts name their key id and
 * version, so values written under the platform key before per-user keys existed still decrypt.
 *
 * On embedded PostgreSQL, a query outside a transaction waits until the open transaction ends.
 * Encryption can read the key store (to create a user's key or reserve encryption counts), so
 * callers encrypt before they open a transaction. Decryption inside a transaction reads the key
 * store only on a key cache miss, so callers load the keys of the rows they will read
 * ({@link UserFieldProtection.loadKeysOf}, and {@link UserFieldProtection.loadKeys} for the
 * platform key) right before such a transaction.
 */
export class UserFieldProtection {
  readonly #cipher: FieldCipher;
  readonly #hierarchy: KeyHierarchy;
  readonly #indexer: BlindIndexer;
  readonly #logger: Logger | undefined;
  // Versions that loadKeysOf found destroyed or missing. Decrypting under one fails at once
  // instead of reading the key store again, which inside a transaction on embedded PostgreSQL
  // would wait forever.
  readonly #unavailableKeys = new LruCache<string, true>({
    maxEntries: UNAVAILABLE_KEYS_MAX_ENTRIES,
    ttlMs: UNAVAILABLE_KEYS_TTL_MS,
  });

  /** `logger` receives integrity failures of stored values, with ids and no personal data. */
  constructor(cipher: FieldCipher, hierarchy: KeyHierarchy, logger?: Logger) {
    this.#cipher = cipher;
    this.#hierarchy = hierarchy;
    this.#indexer = new BlindIndexer(hierarchy, cipher.counters);
    this.#logger = logger;
  }

  /**
   * Encrypts a user field under the user's own data key, creating the key on first use.
   *
   * @throws KeyStateError when the user's key has no active version, for example after the
   * user's erasure was scheduled.
   */
  encrypt(userId: string, field: UserField, value: string): Promise<string> {
    return this.#cipher.encrypt(userFieldLocation(userId, field), value, {
      actor: ACTOR,
      subject: userSubject(userId),
    });
  }

  /** @throws DecryptionError when the value was not encrypted for this user and field. */
  async decrypt(userId: string, field: UserField, ciphertext: string): Promise<string> {
    this.#assertKeyNotUnavailable(ciphertext);
    return this.#cipher.decryptString(userFieldLocation(userId, field), ciphertext, { actor: ACTOR });
  }

  #assertKeyNotUnavailable(ciphertext: string): void {
    const parsed = parseCiphertext(ciphertext);
    if (parsed !== undefined && this.#unavailableKeys.get(refId(parsed)) !== undefined) {
      throw new DecryptionError();
    }
  }

  /** Returns the blind index stored with a new or changed email, under the active key version. */
  emailIndexForWrite(email: string): Promise<string> {
    return this.#indexer.indexForWrite(PLATFORM_KEY_TENANT, EMAIL_INDEX_COLUMN, email, 'email', ACTOR);
  }

  /**
   * Returns the blind indexes to search for, one per platform key version that can still
   * decrypt. It unwraps every such version, so decryption right after it hits the key cache.
   */
  emailIndexesForLookup(email: string): Promise<string[]> {
    return this.#indexer.indexesForLookup(PLATFORM_KEY_TENANT, EMAIL_INDEX_COLUMN, email, 'email', ACTOR);
  }

  /** Loads every decryptable platform key version into the key cache. */
  async loadKeys(): Promise<void> {
    await this.emailIndexesForLookup('');
  }

  encryptInvitationEmail(invitationId: string, email: string): Promise<string> {
    return this.#cipher.encrypt(invitationEmailLocation(invitationId), email, { actor: ACTOR });
  }

  /** @throws DecryptionError when the value was not encrypted for this invitation. */
  async decryptInvitationEmail(invitationId: string, ciphertext: string): Promise<string> {
    this.#assertKeyNotUnavailable(ciphertext);
    return this.#cipher.decryptString(invitationEmailLocation(invitationId), ciphertext, {
      actor: ACTOR,
    });
  }

  /**
   * Returns the blind index stored with an invitation's email, under the active version of the
   * inviting organization's data key. The same email therefore has unrelated indexes in two
   * organizations, so the indexes do not link a person's invitations across tenants.
   */
  invitationIndexForWrite(orgId: string, email: string): Promise<string> {
    return this.#indexer.indexForWrite(orgId, INVITATION_INDEX_COLUMN, email, 'email', ACTOR);
  }

  /**
   * Returns the invitation email indexes of one organization to search for, one per
   * decryptable version of the organization's data key.
   */
  invitationIndexesForLookup(orgId: string, email: string): Promise<string[]> {
    return this.#indexer.indexesForLookup(orgId, INVITATION_INDEX_COLUMN, email, 'email', ACTOR);
  }

  /**
   * Returns the indexes that invitations written before organization-bound indexes stored, one
   * per decryptable platform key version. Only the start migration and its tests use them.
   */
  legacyInvitationIndexesForLookup(email: string): Promise<string[]> {
    return this.#indexer.indexesForLookup(
      PLATFORM_KEY_TENANT,
      INVITATION_INDEX_COLUMN,
      email,
      'email',
      ACTOR,
    );
  }

  /**
   * Encrypts a TOTP secret under the user's own data key.
   *
   * @throws KeyStateError when the user's key has no active version.
   */
  encryptTotpSecret(userId: string, secret: Uint8Array): Promise<string> {
    return this.#cipher.encrypt(totpSecretLocation(userId), secret, {
      actor: ACTOR,
      subject: userSubject(userId),
    });
  }

  /** @throws DecryptionError when the value was not encrypted for this user's TOTP factor. */
  async decryptTotpSecret(userId: string, ciphertext: string): Promise<Buffer> {
    this.#assertKeyNotUnavailable(ciphertext);
    return this.#cipher.decrypt(totpSecretLocation(userId), ciphertext, { actor: ACTOR });
  }

  /**
   * Returns the active platform key version, which new invitation emails are encrypted under
   * and the user email index is computed under.
   */
  activeKey(): Promise<KeyVersionRef> {
    return this.#hierarchy.activeDataKey({ kind: 'tenant', tenant: PLATFORM_KEY_TENANT }, ACTOR);
  }

  /**
   * Returns the active version of the user's own data key, creating the key if needed.
   *
   * @throws KeyStateError when the key has no active version, for example after the user's
   * erasure was scheduled.
   */
  activeUserKey(userId: string): Promise<KeyVersionRef> {
    return this.#hierarchy.activeDataKey(userKeyOwner(userId), ACTOR);
  }

  /**
   * Loads the key versions named by `ciphertexts` into the key cache, so that decrypting them
   * inside a transaction that follows reads nothing from the key store. Values that do not
   * parse are skipped. Versions that are missing or destroyed are remembered, so decrypting
   * under them fails without a key store read.
   */
  async loadKeysOf(ciphertexts: Iterable<string | null>): Promise<void> {
    const seen = new Set<string>();
    for (const ciphertext of ciphertexts) {
      if (ciphertext === null) continue;
      const parsed = parseCiphertext(ciphertext);
      if (parsed === undefined) continue;
      const id = refId(parsed);
      if (seen.has(id)) continue;
      seen.add(id);
      try {
        const ref = { keyId: parsed.keyId, version: parsed.keyVersion };
        const { key } = await this.#hierarchy.subkey(ref, 'field-encryption', ACTOR);
        key.fill(0);
      } catch (error) {
        if (!isKeyUnavailable(error)) throw error;
        this.#unavailableKeys.set(id, true);
      }
    }
  }

  /**
   * Logs that a stored value of `rowId` did not decrypt: it was altered, copied from another
   * row, or its key was destroyed. The log names the table, column and row id only.
   */
  reportUnreadable(location: Pick<FieldLocation, 'table' | 'column' | 'rowId'>): void {
    this.#logger?.error(
      { table: location.table, column: location.column, rowId: location.rowId },
      'stored personal field failed to decrypt: altered, moved to another row, or its key was destroyed',
    );
  }

  /** Returns the platform data key id, creating the key if needed. */
  keyId(): Promise<string> {
    return this.#hierarchy.dataKeyId({ kind: 'tenant', tenant: PLATFORM_KEY_TENANT }, ACTOR);
  }

  /** Lists the platform key versions that can still decrypt. */
  async decryptableVersions(): Promise<KeyVersionRef[]> {
    const versions = await this.#hierarchy.listVersions(await this.keyId());
    return versions.filter(canDecrypt).map((record) => ({ keyId: record.keyId, version: record.version }));
  }
}

function refId(parsed: { keyId: string; keyVersion: number }): string {
  return `${parsed.keyId}:${parsed.keyVersion}`;
}

function isKeyUnavailable(error: unknown): boolean {
  return error instanceof KeyNotFoundError || error instanceof KeyStateError;
}

/** Reports whether `ciphertext` is under the key version `active`. */
export function isUnderKey(ciphertext: string, active: KeyVersionRef): boolean {
  const parsed = parseCiphertext(ciphertext);
  return parsed?.keyId === active.keyId && parsed.keyVersion === active.version;
}

/** Normalizes an email the way the blind index does, for comparing decrypted candidates. */
export function normalizeEmail(email: string): string {
  return normalizeForBlindIndex(email, 'email');
}
