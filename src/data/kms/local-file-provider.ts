import { randomBytes } from 'node:crypto';
import path from 'node:path';

import { aesGcmDecrypt, aesGcmEncrypt, concatSealed, splitSealed } from '../crypto/aes-gcm.js';
import { DecryptionError } from '../crypto/errors.js';
import { encodeLengthPrefixed, encodeStringMap } from '../crypto/length-prefixed.js';
import type {
  EncryptionContext,
  GeneratedDataKey,
  KmsKeyDescription,
  KmsProvider,
} from './kms-provider.js';
import { KmsError } from './kms-provider.js';
import { loadOrCreateMasterKeyFile } from './master-key-file.js';
import type { MasterKeyFile } from './master-key-file.js';

/** Options for {@link LocalFileKmsProvider.open}. */
export interface LocalFileKmsOptions {
  /** Folder for the key file. It is created with mode 0700 when missing. */
  directory: string;
  /** Key file name inside `directory`. Defaults to `master-key.json`. */
  fileName?: string;
  /** Id of the master key. Defaults to `local-master`. */
  masterKeyId?: string;
}

const BLOB_VERSION = 1;
const AAD_LABEL = 'mindweave/local-kms/v1';
const CONTEXT_LABEL = 'mindweave/encryption-context/v1';
const MAX_DATA_KEY_LENGTH = 1024;

/**
 * KMS provider that keeps one AES-256 master key in a local file.
 *
 * Blobs are `0x01 || iv || ciphertext || tag` from AES-256-GCM with associated data binding the
 * master key id and the encryption context. The key file is plaintext on disk, protected only by
 * file permissions, so this provider suits development and single-host installs (see
 * {@link LocalFileKmsProvider.productionWarning}).
 */
export class LocalFileKmsProvider implements KmsProvider {
  readonly providerName = 'local-file';
  readonly #file: MasterKeyFile;
  readonly #filePath: string;

  private constructor(file: MasterKeyFile, filePath: string) {
    this.#file = file;
    this.#filePath = filePath;
  }

  /**
   * Opens the provider, creating the folder and a new random master key on first use.
   *
   * @throws KmsError when the key file or folder has unsafe permissions, the file is malformed,
   * or it contains a master key with a different id.
   */
  static async open(options: LocalFileKmsOptions): Promise<LocalFileKmsProvider> {
    const fileName = options.fileName ?? 'master-key.json';
    const masterKeyId = options.masterKeyId ?? 'local-master';
    const file = await loadOrCreateMasterKeyFile(options.directory, fileName, masterKeyId);
    const filePath = path.join(options.directory, fileName);
    if (file.masterKeyId !== masterKeyId) {
      file.key.fill(0);
      throw new KmsError(
        `master key file ${filePath} contains key ${JSON.stringify(file.masterKeyId)}, not the ` +
          `configured ${JSON.stringify(masterKeyId)}. Configure that id or point to another folder.`,
      );
    }
    return new LocalFileKmsProvider(file, filePath);
  }

  #requireKey(masterKeyId: string): Buffer {
    if (masterKeyId !== this.#file.masterKeyId) {
      throw new KmsError(
        `master key ${JSON.stringify(masterKeyId)} not found. This provider stores only ` +
          `${JSON.stringify(this.#file.masterKeyId)}.`,
      );
    }
    return this.#file.key;
  }

  #aad(masterKeyId: string, context: EncryptionContext): Buffer {
    return encodeLengthPrefixed([AAD_LABEL, masterKeyId, encodeStringMap(CONTEXT_LABEL, context)]);
  }

  /** Generates a random data key of `lengthBytes` bytes (default 32), in plaintext and encrypted. */
  async generateDataKey(
    masterKeyId: string,
    context: EncryptionContext,
    lengthBytes = 32,
  ): Promise<GeneratedDataKey> {
    if (!Number.isInteger(lengthBytes) || lengthBytes < 16 || lengthBytes > MAX_DATA_KEY_LENGTH) {
      throw new KmsError(
        `invalid data key length ${lengthBytes}: expected 16 to ${MAX_DATA_KEY_LENGTH} bytes`,
      );
    }
    const plaintext = randomBytes(lengthBytes);
    const ciphertextBlob = await this.encrypt(masterKeyId, plaintext, context);
    return { plaintext, ciphertextBlob, masterKeyId };
  }

  /** Encrypts `plaintext` under the master key, binding `context`. */
  encrypt(masterKeyId: string, plaintext: Uint8Array, context: EncryptionContext): Promise<Buffer> {
    // The work is synchronous, and running it inside then() turns any throw into a rejection.
    return Promise.resolve().then(() => {
      const key = this.#requireKey(masterKeyId);
      const sealed = aesGcmEncrypt(key, plaintext, this.#aad(masterKeyId, context));
      return Buffer.concat([Buffer.of(BLOB_VERSION), concatSealed(sealed)]);
    });
  }

  /**
   * Decrypts a blob from `encrypt` or `generateDataKey`.
   *
   * @throws DecryptionError when the blob is malformed or `context` differs from encryption.
   */
  decrypt(
    masterKeyId: string,
    ciphertextBlob: Uint8Array,
    context: EncryptionContext,
  ): Promise<Buffer> {
    return Promise.resolve().then(() => {
      const key = this.#requireKey(masterKeyId);
      if (ciphertextBlob.length < 1 || ciphertextBlob[0] !== BLOB_VERSION) {
        throw new DecryptionError();
      }
      const sealed = splitSealed(ciphertextBlob.subarray(1));
      const aad = this.#aad(masterKeyId, context);
      return aesGcmDecrypt(key, sealed.iv, sealed.ciphertext, sealed.tag, aad);
    });
  }

  /** Returns metadata about the master key. */
  describe(masterKeyId: string): Promise<KmsKeyDescription> {
    return Promise.resolve().then(() => {
      this.#requireKey(masterKeyId);
      return {
        masterKeyId,
        provider: this.providerName,
        algorithm: 'AES-256-GCM',
        enabled: true,
        createdAt: this.#file.createdAt,
      };
    });
  }

  /** Returns a warning when NODE_ENV is `production`, because the master key sits unencrypted on disk. */
  productionWarning(nodeEnv: string | undefined): string | undefined {
    if (nodeEnv !== 'production') {
      return undefined;
    }
    return (
      `the local-file KMS provider keeps the master key unencrypted in ${this.#filePath}, ` +
      `protected only by file permissions; configure a KMS or HSM provider for production`
    );
  }
}
