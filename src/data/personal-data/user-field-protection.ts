import { BlindIndexer, normalizeForBlindIndex } from '../crypto/blind-index.js';
import type { BlindIndexColumn } from '../crypto/blind-index.js';
import { parseCiphertext } from '../crypto/ciphertext-format.js';
import type { FieldCipher } from '../crypto/field-cipher.js';
import type { FieldLocation } from '../crypto/field-context.js';
import type { KeyHierarchy } from '../crypto/key-hierarchy.js';
import { canDecrypt } from '../crypto/key-lifecycle.js';
import type { KeyVersionRef } from '../crypto/key-types.js';

/**
 * Owner tenant of the platform data key, which encrypts data that belongs to no single
 * organization: users (a user can be a member of several organizations) and their TOTP secrets.
 * Organization ids are UUIDs, so this name never matches one. The key is an ordinary data key
 * wrapped under the `database` purpose key, so it rotates and is destroyed like a tenant key,
 * and its blind-index sub-key is separate from its encryption sub-key.
 */
export const PLATFORM_KEY_TENANT = 'platform';

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
 * Encrypts users' personal fields and TOTP secrets under the platform data key, and computes the
 * email blind index.
 *
 * On embedded PostgreSQL, a query outside a transaction waits until the open transaction ends.
 * Encryption can read the key store (to reserve encryption counts), so callers encrypt before
 * they open a transaction. Decryption inside a transaction reads the key store only on a key
 * cache miss, so callers run {@link UserFieldProtection.loadKeys} (or compute lookup indexes,
 * which loads the same keys) right before such a transaction.
 */
export class UserFieldProtection {
  readonly #cipher: FieldCipher;
  readonly #hierarchy: KeyHierarchy;
  readonly #indexer: BlindIndexer;

  constructor(cipher: FieldCipher, hierarchy: KeyHierarchy) {
    this.#cipher = cipher;
    this.#hierarchy = hierarchy;
    this.#indexer = new BlindIndexer(hierarchy, cipher.counters);
  }

  encrypt(userId: string, field: UserField, value: string): Promise<string> {
    return this.#cipher.encrypt(userFieldLocation(userId, field), value, { actor: ACTOR });
  }

  /** @throws DecryptionError when the value was not encrypted for this user and field. */
  decrypt(userId: string, field: UserField, ciphertext: string): Promise<string> {
    return this.#cipher.decryptString(userFieldLocation(userId, field), ciphertext, { actor: ACTOR });
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
  decryptInvitationEmail(invitationId: string, ciphertext: string): Promise<string> {
    return this.#cipher.decryptString(invitationEmailLocation(invitationId), ciphertext, {
      actor: ACTOR,
    });
  }

  /** Returns the blind index stored with an invitation's email, under the active key version. */
  invitationIndexForWrite(email: string): Promise<string> {
    return this.#indexer.indexForWrite(
      PLATFORM_KEY_TENANT,
      INVITATION_INDEX_COLUMN,
      email,
      'email',
      ACTOR,
    );
  }

  /** Returns the invitation email indexes to search for, one per decryptable key version. */
  invitationIndexesForLookup(email: string): Promise<string[]> {
    return this.#indexer.indexesForLookup(
      PLATFORM_KEY_TENANT,
      INVITATION_INDEX_COLUMN,
      email,
      'email',
      ACTOR,
    );
  }

  encryptTotpSecret(userId: string, secret: Uint8Array): Promise<string> {
    return this.#cipher.encrypt(totpSecretLocation(userId), secret, { actor: ACTOR });
  }

  /** @throws DecryptionError when the value was not encrypted for this user's TOTP factor. */
  decryptTotpSecret(userId: string, ciphertext: string): Promise<Buffer> {
    return this.#cipher.decrypt(totpSecretLocation(userId), ciphertext, { actor: ACTOR });
  }

  /** Returns the active platform key version that new values are encrypted under. */
  activeKey(): Promise<KeyVersionRef> {
    return this.#hierarchy.activeDataKey({ kind: 'tenant', tenant: PLATFORM_KEY_TENANT }, ACTOR);
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

/** Reports whether `ciphertext` is under the key version `active`. */
export function isUnderKey(ciphertext: string, active: KeyVersionRef): boolean {
  const parsed = parseCiphertext(ciphertext);
  return parsed?.keyId === active.keyId && parsed.keyVersion === active.version;
}

/** Normalizes an email the way the blind index does, for comparing decrypted candidates. */
export function normalizeEmail(email: string): string {
  return normalizeForBlindIndex(email, 'email');
}
