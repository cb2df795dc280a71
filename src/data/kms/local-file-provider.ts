import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
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
import {
  createMasterKeyFile,
  loadExistingMasterKeyFile,
  loadOrCreateMasterKeyFile,
} from './master-key-file.js';
import type { MasterKeyFile } from './master-key-file.js';

/** Options for {@link LocalFileKmsProvider.open}. */
export interface LocalFileKmsOptions {
  /** Folder for the key files. It is created with mode 0700 when missing. */
  directory: string;
  /** Name of the first key file inside `directory`. Defaults to `master-key.json`. */
  fileName?: string;
  /** Id of the first master key. Defaults to `local-master`. */
  masterKeyId?: string;
  /**
   * Whether to create the folder and a first key when the folder contains no key file. Defaults to
   * true. A provider opened for decryption only passes false.
   */
  createIfMissing?: boolean;
}

/** One master key file in the local provider's folder. */
export interface LocalMasterKeyFileName {
  masterKeyId: string;
  fileName: string;
  /** 1 for the first key file, then 2, 3, … for each rotation. */
  generation: number;
}

const BLOB_VERSION = 1;
const AAD_LABEL = 'mindweave/local-kms/v1';
const CONTEXT_LABEL = 'mindweave/encryption-context/v1';
const MAX_DATA_KEY_LENGTH = 1024;
const DEFAULT_FILE_NAME = 'master-key.json';
const DEFAULT_MASTER_KEY_ID = 'local-master';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Returns the file name and id of the key of `generation`: `master.key` becomes `master-2.key`. */
function rotatedName(fileName: string, baseId: string, generation: number): LocalMasterKeyFileName {
  if (generation === 1) return { fileName, masterKeyId: baseId, generation };
  const extension = path.extname(fileName);
  const stem = fileName.slice(0, fileName.length - extension.length);
  return {
    fileName: `${stem}-${generation}${extension}`,
    masterKeyId: `${baseId}-${generation}`,
    generation,
  };
}

/**
 * Lists the master key files in `directory` by generation, oldest first, from their names only
 * (no key is read). A missing folder has none.
 */
export function listLocalMasterKeyFiles(
  directory: string,
  fileName = DEFAULT_FILE_NAME,
  baseId = DEFAULT_MASTER_KEY_ID,
): LocalMasterKeyFileName[] {
  let names: string[];
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- server configuration
    names = readdirSync(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const extension = path.extname(fileName);
  const stem = fileName.slice(0, fileName.length - extension.length);
  // eslint-disable-next-line security/detect-non-literal-regexp -- built from escaped config
  const pattern = new RegExp(`^${escapeRegExp(stem)}-([1-9][0-9]{0,8})${escapeRegExp(extension)}$`);
  const found: LocalMasterKeyFileName[] = [];
  for (const name of names) {
    if (name === fileName) {
      found.push(rotatedName(fileName, baseId, 1));
      continue;
    }
    const match = pattern.exec(name);
    const generation = Number(match?.[1]);
    if (match !== null && generation > 1) {
      found.push(rotatedName(fileName, baseId, generation));
    }
  }
  return found.sort((a, b) => a.generation - b.generation);
}

/** Returns the id of the newest master key in `directory`, which wraps new purpose keys. */
export function activeLocalMasterKeyId(
  directory: string,
  fileName = DEFAULT_FILE_NAME,
  baseId = DEFAULT_MASTER_KEY_ID,
): string {
  return listLocalMasterKeyFiles(directory, fileName, baseId).at(-1)?.masterKeyId ?? baseId;
}

/**
 * KMS provider that keeps AES-256 master keys in local files, one per file.
 *
 * The folder starts with one key file. Each rotation adds a file with the next generation
 * number, and the newest key is the active one. Older keys stay readable until their files are
 * removed. Blobs are `0x01 || iv || ciphertext || tag` from AES-256-GCM with associated data
 * binding the master key id and the encryption context. The key files are plaintext on disk,
 * protected only by file permissions, so this provider suits development and single-host
 * installs (see {@link LocalFileKmsProvider.productionWarning}).
 */
export class LocalFileKmsProvider implements KmsProvider {
  readonly providerName = 'local-file';
  readonly #files: Map<string, MasterKeyFile>;
  readonly #directory: string;
  readonly #activeMasterKeyId: string;

  private constructor(files: MasterKeyFile[], directory: string) {
    this.#files = new Map(files.map((file) => [file.masterKeyId, file]));
    this.#directory = directory;
    this.#activeMasterKeyId = files.at(-1)?.masterKeyId ?? '';
  }

  /**
   * Opens the provider with every key file in the folder, creating the folder and a first random
   * master key on first use unless `createIfMissing` is false.
   *
   * @throws KmsError when a key file or the folder has unsafe permissions, a file is malformed,
   * a file contains a master key with an id other than its name gives, or no key file exists
   * and `createIfMissing` is false.
   */
  static async open(options: LocalFileKmsOptions): Promise<LocalFileKmsProvider> {
    const fileName = options.fileName ?? DEFAULT_FILE_NAME;
    const baseId = options.masterKeyId ?? DEFAULT_MASTER_KEY_ID;
    const names = listLocalMasterKeyFiles(options.directory, fileName, baseId);
    if (names.length === 0) {
      if (options.createIfMissing === false) {
        throw new KmsError(
          `no master key file ${fileName} found in ${options.directory}. Check KMS_MASTER_KEY_DIR.`,
        );
      }
      const file = await loadOrCreateMasterKeyFile(options.directory, fileName, baseId);
      return LocalFileKmsProvider.#checked([file], [rotatedName(fileName, baseId, 1)], options);
    }
    const files: MasterKeyFile[] = [];
    try {
      for (const name of names) {
        files.push(await loadExistingMasterKeyFile(options.directory, name.fileName));
      }
    } catch (error) {
      for (const file of files) file.key.fill(0);
      throw error;
    }
    return LocalFileKmsProvider.#checked(files, names, options);
  }

  static #checked(
    files: MasterKeyFile[],
    names: LocalMasterKeyFileName[],
    options: LocalFileKmsOptions,
  ): LocalFileKmsProvider {
    for (const [index, file] of files.entries()) {
      const name = names[index];
      if (name !== undefined && file.masterKeyId !== name.masterKeyId) {
        for (const other of files) other.key.fill(0);
        const filePath = path.join(options.directory, name.fileName);
        throw new KmsError(
          `master key file ${filePath} contains key ${JSON.stringify(file.masterKeyId)}, not the ` +
            `expected ${JSON.stringify(name.masterKeyId)}. Configure that id or point to another ` +
            `folder.`,
        );
      }
    }
    return new LocalFileKmsProvider(files, options.directory);
  }

  /** Id of the newest master key, which wraps new purpose keys. */
  get activeMasterKeyId(): string {
    return this.#activeMasterKeyId;
  }

  /** Ids of every master key this provider holds, oldest first. */
  masterKeyIds(): string[] {
    return [...this.#files.keys()];
  }

  #requireKey(masterKeyId: string): Buffer {
    const file = this.#files.get(masterKeyId);
    if (file === undefined) {
      throw new KmsError(
        `master key ${JSON.stringify(masterKeyId)} not found. The local provider in ` +
          `${this.#directory} stores only ${this.masterKeyIds().map((id) => JSON.stringify(id)).join(', ')}.`,
      );
    }
    return file.key;
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
        createdAt: this.#files.get(masterKeyId)?.createdAt,
      };
    });
  }

  /** Returns a warning when NODE_ENV is `production`, because the master key sits unencrypted on disk. */
  productionWarning(nodeEnv: string | undefined): string | undefined {
    if (nodeEnv !== 'production') {
      return undefined;
    }
    return (
      `the local-file KMS provider keeps the master key unencrypted in ${this.#directory}, ` +
      `protected only by file permissions; configure a KMS or HSM provider for production`
    );
  }
}

/** Result of {@link rotateLocalMasterKey}. */
export interface LocalMasterKeyRotation {
  previousMasterKeyId: string;
  masterKeyId: string;
  filePath: string;
}

/**
 * Creates the next master key file next to the existing ones (mode 0600 in the owner-only
 * folder). Providers opened afterwards wrap new purpose keys under it. Keys wrapped before stay
 * under the older key until they are re-wrapped.
 *
 * @throws KmsError when the folder contains no key file yet, is unsafe, or another rotation created
 * the same file first.
 */
export async function rotateLocalMasterKey(
  options: Omit<LocalFileKmsOptions, 'createIfMissing'>,
): Promise<LocalMasterKeyRotation> {
  const fileName = options.fileName ?? DEFAULT_FILE_NAME;
  const baseId = options.masterKeyId ?? DEFAULT_MASTER_KEY_ID;
  const newest = listLocalMasterKeyFiles(options.directory, fileName, baseId).at(-1);
  if (newest === undefined) {
    throw new KmsError(
      `no master key file ${fileName} found in ${options.directory}, so there is nothing to ` +
        `rotate. Start the server once to create the first master key.`,
    );
  }
  const next = rotatedName(fileName, baseId, newest.generation + 1);
  const file = await createMasterKeyFile(options.directory, next.fileName, next.masterKeyId);
  file.key.fill(0);
  return {
    previousMasterKeyId: newest.masterKeyId,
    masterKeyId: next.masterKeyId,
    filePath: path.join(options.directory, next.fileName),
  };
}

/**
 * Deletes the key file of `masterKeyId`. The caller must first check that no stored key is
 * wrapped under it, because data under such a key becomes unreadable.
 *
 * @throws KmsError when the key has no file in the folder, or is the active one and
 * `allowActive` is false. Only a folder opened decrypt-only after a move to another provider
 * may lose its active key.
 */
export async function removeLocalMasterKeyFile(
  options: Omit<LocalFileKmsOptions, 'createIfMissing'>,
  masterKeyId: string,
  allowActive = false,
): Promise<string> {
  const fileName = options.fileName ?? DEFAULT_FILE_NAME;
  const baseId = options.masterKeyId ?? DEFAULT_MASTER_KEY_ID;
  const names = listLocalMasterKeyFiles(options.directory, fileName, baseId);
  const found = names.find((name) => name.masterKeyId === masterKeyId);
  if (found === undefined) {
    throw new KmsError(`master key ${JSON.stringify(masterKeyId)} has no file in ${options.directory}`);
  }
  if (found === names.at(-1) && !allowActive) {
    throw new KmsError(`master key ${JSON.stringify(masterKeyId)} is the active key and cannot be removed`);
  }
  const filePath = path.join(options.directory, found.fileName);
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- server configuration
  await unlink(filePath);
  return filePath;
}
