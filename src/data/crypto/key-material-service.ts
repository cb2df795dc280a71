import { randomBytes } from 'node:crypto';

import type { KmsProvider } from '../kms/kms-provider.js';
import { KeyNotFoundError, KeyStateError } from './errors.js';
import { canDecryptAt } from './key-lifecycle.js';
import type { KeyMaterialCache } from './key-material-cache.js';
import type { KeyStore } from './key-store.js';
import type { Clock, KeyOwner, KeyRecord, PurposeKeyName } from './key-types.js';
import type { KeyUsageLogger } from './key-usage-logger.js';
import { identityContext, kmsContext } from './key-usage-logger.js';
import { unwrapKey, wrapKey } from './key-wrap.js';

/** Length of purpose and data keys in bytes (AES-256). */
export const KEY_LENGTH = 32;

/** Dependencies of {@link KeyMaterialService}. */
export interface KeyMaterialServiceOptions {
  kms: KmsProvider;
  masterKeyId: string;
  store: KeyStore;
  cache: KeyMaterialCache;
  logger: KeyUsageLogger;
  clock: Clock;
}

/**
 * Creates new wrapped key versions and unwraps stored ones, through the key material cache and
 * with a key usage record for every generate, wrap and unwrap.
 */
export class KeyMaterialService {
  readonly #kms: KmsProvider;
  readonly #masterKeyId: string;
  readonly #store: KeyStore;
  readonly #cache: KeyMaterialCache;
  readonly #logger: KeyUsageLogger;
  readonly #clock: Clock;

  constructor(options: KeyMaterialServiceOptions) {
    this.#kms = options.kms;
    this.#masterKeyId = options.masterKeyId;
    this.#store = options.store;
    this.#cache = options.cache;
    this.#logger = options.logger;
    this.#clock = options.clock;
  }

  /** Generates a purpose key version under the KMS master key and stores it as active. */
  async createPurposeKeyVersion(
    purpose: PurposeKeyName,
    keyId: string,
    version: number,
    actor: string,
  ): Promise<KeyRecord> {
    const context = kmsContext({ keyId, purpose, version });
    const generated = await this.#kms.generateDataKey(this.#masterKeyId, context, KEY_LENGTH);
    try {
      const record: KeyRecord = {
        keyId,
        version,
        purpose,
        owner: { kind: 'system' },
        parent: { kind: 'kms', provider: this.#kms.providerName, masterKeyId: this.#masterKeyId },
        state: 'active',
        createdAt: this.#clock(),
        wrappedKey: generated.ciphertextBlob,
      };
      await this.#store.insertKey(record);
      this.#cache.set(record, record, generated.plaintext);
      // GenerateDataKey both creates the key and wraps it under the master key, so both steps
      // are recorded, as for data keys.
      await this.#logger.write('generate', record, actor, context);
      await this.#logger.write('wrap', record, actor, context);
      return record;
    } finally {
      generated.plaintext.fill(0);
    }
  }

  /** Generates a data key version, wraps it under `parent` and stores it as active. */
  async createDataKeyVersion(
    owner: KeyOwner,
    keyId: string,
    version: number,
    parent: KeyRecord,
    actor: string,
  ): Promise<KeyRecord> {
    const parentMaterial = await this.unwrap(parent, actor);
    const material = randomBytes(KEY_LENGTH);
    try {
      const record: KeyRecord = {
        keyId,
        version,
        purpose: 'data',
        owner,
        parent: { kind: 'key', keyId: parent.keyId, version: parent.version },
        state: 'active',
        createdAt: this.#clock(),
      };
      record.wrappedKey = wrapKey(parentMaterial, material, record);
      await this.#store.insertKey(record);
      this.#cache.set(record, record, material);
      await this.#logger.write('generate', record, actor, identityContext(record));
      await this.#logger.write('wrap', record, actor, identityContext(record));
      return record;
    } finally {
      material.fill(0);
      parentMaterial.fill(0);
    }
  }

  /**
   * Returns a copy of the unwrapped material of `record`, unwrapping its parents as needed. The
   * caller zeroes the copy after use. `logger` receives the unwrap records, so a caller inside an
   * open transaction can write them there.
   *
   * @throws KeyStateError when the version or one of its parents is destroyed or past its
   * deletion date.
   * @throws DecryptionError when a wrapped key does not authenticate.
   */
  async unwrap(
    record: KeyRecord,
    actor: string,
    logger: KeyUsageLogger = this.#logger,
  ): Promise<Buffer> {
    const cached = this.#cache.getMaterial(record);
    if (cached !== undefined) {
      return cached;
    }
    const context = identityContext(record);
    if (!canDecryptAt(record, this.#clock()) || record.wrappedKey === undefined) {
      const reason =
        record.state === 'destroyed' ? 'is destroyed' : 'is past its deletion date';
      const error = new KeyStateError(`key ${record.keyId} version ${record.version} ${reason}`);
      await logger.write('unwrap', record, actor, context, error);
      throw error;
    }
    let material: Buffer;
    try {
      material = await this.#unwrapWithParent(record, record.wrappedKey, actor, logger);
    } catch (error) {
      await logger.write('unwrap', record, actor, context, error);
      throw error;
    }
    this.#cache.set(record, record, material);
    await logger.write('unwrap', record, actor, context);
    return material;
  }

  async #unwrapWithParent(
    record: KeyRecord,
    wrappedKey: Buffer,
    actor: string,
    logger: KeyUsageLogger,
  ): Promise<Buffer> {
    const parent = record.parent;
    if (parent.kind === 'kms') {
      return this.#kms.decrypt(parent.masterKeyId, wrappedKey, kmsContext(record));
    }
    const parentRecord = await this.#store.getKey(parent.keyId, parent.version);
    if (parentRecord === undefined) {
      throw new KeyNotFoundError(`key ${parent.keyId} version ${parent.version} not found`);
    }
    const parentMaterial = await this.unwrap(parentRecord, actor, logger);
    try {
      return unwrapKey(parentMaterial, wrappedKey, record);
    } finally {
      parentMaterial.fill(0);
    }
  }
}
