import { aesGcmDecrypt, aesGcmEncrypt, concatSealed, splitSealed } from './aes-gcm.js';
import { formatCiphertext, parseCiphertext } from './ciphertext-format.js';
import {
  CryptoParameterError,
  DecryptionError,
  KeyNotFoundError,
  KeyStateError,
} from './errors.js';
import { encodeFieldAad, validateFieldLocation } from './field-context.js';
import type { FieldLocation } from './field-context.js';
import { FieldCryptoCounters } from './field-counters.js';
import type { KeyHierarchy } from './key-hierarchy.js';

/** Options for one field operation. */
export interface FieldOperationOptions {
  /**
   * Data subject whose own data key encrypts the value, so that destroying that key erases the
   * value. The tenant's data key is used when omitted. Decryption reads the key from the
   * ciphertext and ignores this option.
   */
  subject?: string;
  /** User or component recorded in the key usage log if a key must be unwrapped. */
  actor?: string;
}

const DEFAULT_ACTOR = 'field-cipher';

/**
 * Encrypts and decrypts single column values with AES-256-GCM under a sub-key of the owning
 * tenant's (or data subject's) data key.
 *
 * Ciphertexts are `mw1.<keyId>.<keyVersion>.<base64url(iv || ciphertext || tag)>`, and the
 * associated data binds tenant, table, column, row id, key id and key version, so a value copied
 * to another row, column or tenant does not decrypt.
 */
export class FieldCipher {
  readonly #hierarchy: KeyHierarchy;
  /** Operation counts of this cipher. */
  readonly counters: FieldCryptoCounters;

  constructor(hierarchy: KeyHierarchy, counters: FieldCryptoCounters = new FieldCryptoCounters()) {
    this.#hierarchy = hierarchy;
    this.counters = counters;
  }

  /**
   * Encrypts a value for the given location under the active data key version.
   *
   * @throws KeyUsageLimitError when the active version must be rotated first.
   * @throws KeyStateError when the data key has no active version.
   * @throws CryptoParameterError when a part of `location` or the subject is empty.
   */
  async encrypt(
    location: FieldLocation,
    plaintext: string | Uint8Array,
    options: FieldOperationOptions = {},
  ): Promise<string> {
    validateFieldLocation(location);
    if (options.subject === '') {
      throw new CryptoParameterError('invalid subject: expected a non-empty string or undefined');
    }
    const actor = options.actor ?? DEFAULT_ACTOR;
    const owner =
      options.subject === undefined
        ? { kind: 'tenant' as const, tenant: location.tenant }
        : { kind: 'subject' as const, tenant: location.tenant, subject: options.subject };
    const ref = await this.#hierarchy.activeDataKey(owner, actor);
    await this.#hierarchy.reserveEncryption(ref);
    const { key } = await this.#hierarchy.subkey(ref, 'field-encryption', actor);
    try {
      const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
      const aad = encodeFieldAad({ ...location, keyId: ref.keyId, keyVersion: ref.version });
      const sealed = aesGcmEncrypt(key, bytes, aad);
      this.counters.encryptions += 1;
      return formatCiphertext({
        keyId: ref.keyId,
        keyVersion: ref.version,
        payload: concatSealed(sealed),
      });
    } finally {
      key.fill(0);
    }
  }

  /**
   * Decrypts a value encrypted for the same location and returns the plaintext bytes.
   *
   * @throws DecryptionError for every failure tied to the ciphertext: malformed text, unknown or
   * destroyed key version, a key of another tenant, or failed authentication. Errors from the
   * key store and usage sink, KmsError, and CryptoParameterError for an empty part of
   * `location` pass through unchanged.
   */
  async decrypt(
    location: FieldLocation,
    ciphertext: string,
    options: FieldOperationOptions = {},
  ): Promise<Buffer> {
    try {
      const plaintext = await this.#decrypt(location, ciphertext, options.actor ?? DEFAULT_ACTOR);
      this.counters.decryptions += 1;
      return plaintext;
    } catch (error) {
      if (
        error instanceof DecryptionError ||
        error instanceof KeyNotFoundError ||
        error instanceof KeyStateError
      ) {
        this.counters.decryptionFailures += 1;
        throw new DecryptionError();
      }
      throw error;
    }
  }

  /** Decrypts a value like {@link FieldCipher.decrypt} and decodes it as UTF-8. */
  async decryptString(
    location: FieldLocation,
    ciphertext: string,
    options: FieldOperationOptions = {},
  ): Promise<string> {
    return (await this.decrypt(location, ciphertext, options)).toString('utf8');
  }

  async #decrypt(location: FieldLocation, ciphertext: string, actor: string): Promise<Buffer> {
    validateFieldLocation(location);
    const parsed = parseCiphertext(ciphertext);
    if (parsed === undefined) {
      throw new DecryptionError();
    }
    const ref = { keyId: parsed.keyId, version: parsed.keyVersion };
    const { key, owner } = await this.#hierarchy.subkey(ref, 'field-encryption', actor);
    // A key of another tenant would also fail the AAD check below, but the owner check rejects it
    // without relying on that.
    if (owner.kind === 'system' || owner.tenant !== location.tenant) {
      key.fill(0);
      throw new DecryptionError();
    }
    try {
      const sealed = splitSealed(parsed.payload);
      const aad = encodeFieldAad({ ...location, keyId: ref.keyId, keyVersion: ref.version });
      return aesGcmDecrypt(key, sealed.iv, sealed.ciphertext, sealed.tag, aad);
    } finally {
      key.fill(0);
    }
  }
}
