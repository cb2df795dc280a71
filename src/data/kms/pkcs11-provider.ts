import { createRequire } from 'node:module';

import type * as Pkcs11Module from 'pkcs11js';

import { DecryptionError } from '../crypto/errors.js';
import { encodeLengthPrefixed, encodeStringMap } from '../crypto/length-prefixed.js';
import type {
  EncryptionContext,
  GeneratedDataKey,
  KmsKeyDescription,
  KmsProvider,
} from './kms-provider.js';
import { KmsError } from './kms-provider.js';

/** Settings of the PKCS#11 token that contains the master key. */
export interface Pkcs11KmsOptions {
  /** Path of the vendor's PKCS#11 module, such as `/usr/lib/softhsm/libsofthsm2.so`. */
  libraryPath: string;
  /** Label of the token (the HSM partition) that contains the master key. */
  tokenLabel: string;
  /** User PIN of the token. */
  pin: string;
  /** Label of the AES-256 master key on the token; it is also the master key id. */
  keyLabel: string;
  /**
   * Generates the master key on the token when no key has the label: AES-256, sensitive,
   * never extractable. Operators who provision keys themselves leave this off.
   */
  createKey?: boolean;
}

const BLOB_VERSION = 1;
const IV_BYTES = 12;
const TAG_BITS = 128;
const AAD_LABEL = 'mindweave/pkcs11-kms/v1';
const CONTEXT_LABEL = 'mindweave/encryption-context/v1';
const MAX_DATA_KEY_LENGTH = 1024;
/** Output room for one encryption or decryption: a data key plus the tag, with margin. */
const OUTPUT_BYTES = MAX_DATA_KEY_LENGTH + 64;

// pkcs11js is a CommonJS native addon, loaded on demand so that installs without an HSM never
// load it.
const requireModule = createRequire(import.meta.url);

function loadBinding(): typeof Pkcs11Module {
  return requireModule('pkcs11js') as typeof Pkcs11Module;
}

/**
 * KMS provider for hardware security modules through PKCS#11. The master key is an AES-256 key
 * on the token that never leaves it: wrapping and unwrapping run inside the HSM with
 * CKM_AES_GCM, a random 96-bit IV and a 128-bit tag. Blobs are `0x01 || iv || ciphertext || tag`
 * with associated data binding the master key id and the encryption context, as with the local
 * provider. The module's calls are synchronous, so each operation runs whole on one session.
 */
export class Pkcs11KmsProvider implements KmsProvider {
  readonly providerName = 'pkcs11';
  #closed = false;

  private constructor(
    private readonly binding: typeof Pkcs11Module,
    private readonly module: Pkcs11Module.PKCS11,
    private readonly session: Buffer,
    private readonly key: Buffer,
    private readonly keyLabel: string,
  ) {}

  /**
   * Loads the module, opens a session on the token, logs in and finds the master key (or
   * generates it when `createKey` is set).
   *
   * @throws KmsError when the module, token or key is missing or the PIN is rejected. The
   * message names the setting to check and never contains the PIN.
   */
  static open(options: Pkcs11KmsOptions): Promise<Pkcs11KmsProvider> {
    return Promise.resolve().then(() => {
      const binding = loadBinding();
      const module = new binding.PKCS11();
      try {
        module.load(options.libraryPath);
      } catch (error) {
        throw new KmsError(
          `failed to load the PKCS#11 module ${options.libraryPath}: ${(error as Error).message}`,
        );
      }
      try {
        module.C_Initialize();
        const slot = module
          .C_GetSlotList(true)
          .find((candidate) => module.C_GetTokenInfo(candidate).label.trim() === options.tokenLabel);
        if (!slot) {
          throw new KmsError(`PKCS#11 token ${JSON.stringify(options.tokenLabel)} not found`);
        }
        const session = module.C_OpenSession(
          slot,
          binding.CKF_SERIAL_SESSION | binding.CKF_RW_SESSION,
        );
        try {
          module.C_Login(session, binding.CKU_USER, options.pin);
        } catch (error) {
          throw new KmsError(
            `PKCS#11 login to token ${JSON.stringify(options.tokenLabel)} failed ` +
              `(${(error as Error).message}); check PKCS11_PIN`,
          );
        }
        const key =
          findKey(binding, module, session, options.keyLabel) ??
          (options.createKey ? generateKey(binding, module, session, options.keyLabel) : null);
        if (!key) {
          throw new KmsError(
            `PKCS#11 key ${JSON.stringify(options.keyLabel)} not found on token ` +
              `${JSON.stringify(options.tokenLabel)}`,
          );
        }
        return new Pkcs11KmsProvider(binding, module, session, key, options.keyLabel);
      } catch (error) {
        finalize(module);
        throw error instanceof KmsError ? error : new KmsError((error as Error).message);
      }
    });
  }

  #requireKey(masterKeyId: string): Buffer {
    if (this.#closed) throw new KmsError('the PKCS#11 provider is closed');
    if (masterKeyId !== this.keyLabel) {
      throw new KmsError(
        `master key ${JSON.stringify(masterKeyId)} not found. This provider uses only ` +
          `${JSON.stringify(this.keyLabel)}.`,
      );
    }
    return this.key;
  }

  #mechanism(iv: Buffer, masterKeyId: string, context: EncryptionContext) {
    const aad = encodeLengthPrefixed([AAD_LABEL, masterKeyId, encodeStringMap(CONTEXT_LABEL, context)]);
    const parameter = { type: this.binding.CK_PARAMS_AES_GCM, iv, aad, ivBits: IV_BYTES * 8, tagBits: TAG_BITS };
    return { mechanism: this.binding.CKM_AES_GCM, parameter };
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
    this.#requireKey(masterKeyId);
    // The token's random generator makes the key, as an HSM-backed service is expected to.
    const plaintext = this.module.C_GenerateRandom(this.session, Buffer.alloc(lengthBytes));
    const ciphertextBlob = await this.encrypt(masterKeyId, plaintext, context);
    return { plaintext, ciphertextBlob, masterKeyId };
  }

  /** Encrypts `plaintext` inside the HSM under the master key, binding `context`. */
  encrypt(masterKeyId: string, plaintext: Uint8Array, context: EncryptionContext): Promise<Buffer> {
    return Promise.resolve().then(() => {
      const key = this.#requireKey(masterKeyId);
      if (plaintext.length > MAX_DATA_KEY_LENGTH) {
        throw new KmsError(`plaintext of ${plaintext.length} bytes exceeds ${MAX_DATA_KEY_LENGTH}`);
      }
      const iv = this.module.C_GenerateRandom(this.session, Buffer.alloc(IV_BYTES));
      this.module.C_EncryptInit(this.session, this.#mechanism(iv, masterKeyId, context), key);
      const sealed = this.module.C_Encrypt(
        this.session,
        Buffer.from(plaintext),
        Buffer.alloc(OUTPUT_BYTES),
      );
      return Buffer.concat([Buffer.of(BLOB_VERSION), iv, sealed]);
    });
  }

  /**
   * Decrypts a blob from `encrypt` or `generateDataKey` inside the HSM.
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
      const minimum = 1 + IV_BYTES + TAG_BITS / 8;
      if (ciphertextBlob.length < minimum || ciphertextBlob[0] !== BLOB_VERSION) {
        throw new DecryptionError();
      }
      if (ciphertextBlob.length > minimum + MAX_DATA_KEY_LENGTH) throw new DecryptionError();
      const blob = Buffer.from(ciphertextBlob);
      const iv = blob.subarray(1, 1 + IV_BYTES);
      this.module.C_DecryptInit(this.session, this.#mechanism(iv, masterKeyId, context), key);
      try {
        return this.module.C_Decrypt(
          this.session,
          blob.subarray(1 + IV_BYTES),
          Buffer.alloc(OUTPUT_BYTES),
        );
      } catch {
        // Tokens report a failed tag check in different ways (SoftHSM2: CKR_GENERAL_ERROR).
        throw new DecryptionError();
      }
    });
  }

  /** Returns metadata about the master key, read from the token. */
  describe(masterKeyId: string): Promise<KmsKeyDescription> {
    return Promise.resolve().then(() => {
      const key = this.#requireKey(masterKeyId);
      const [encrypt, decrypt] = this.module.C_GetAttributeValue(this.session, key, [
        { type: this.binding.CKA_ENCRYPT },
        { type: this.binding.CKA_DECRYPT },
      ]);
      const enabled = isTrue(encrypt?.value) && isTrue(decrypt?.value);
      return { masterKeyId, provider: this.providerName, algorithm: 'AES-256-GCM', enabled };
    });
  }

  /** The key never leaves the HSM, so there is nothing to warn about. */
  productionWarning(): string | undefined {
    return undefined;
  }

  /** Logs out and unloads the module; later calls fail. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    try {
      this.module.C_Logout(this.session);
      this.module.C_CloseSession(this.session);
    } finally {
      finalize(this.module);
    }
    return Promise.resolve();
  }
}

function isTrue(value: unknown): boolean {
  return Buffer.isBuffer(value) ? value[0] === 1 : value === true;
}

function findKey(
  binding: typeof Pkcs11Module,
  module: Pkcs11Module.PKCS11,
  session: Buffer,
  label: string,
): Buffer | null {
  module.C_FindObjectsInit(session, [
    { type: binding.CKA_CLASS, value: binding.CKO_SECRET_KEY },
    { type: binding.CKA_LABEL, value: label },
  ]);
  try {
    const found = module.C_FindObjects(session, 2);
    if (found.length > 1) {
      throw new KmsError(`PKCS#11 token holds several keys labelled ${JSON.stringify(label)}`);
    }
    return found[0] ?? null;
  } finally {
    module.C_FindObjectsFinal(session);
  }
}

function generateKey(
  binding: typeof Pkcs11Module,
  module: Pkcs11Module.PKCS11,
  session: Buffer,
  label: string,
): Buffer {
  return module.C_GenerateKey(session, { mechanism: binding.CKM_AES_KEY_GEN }, [
    { type: binding.CKA_CLASS, value: binding.CKO_SECRET_KEY },
    { type: binding.CKA_KEY_TYPE, value: binding.CKK_AES },
    { type: binding.CKA_VALUE_LEN, value: 32 },
    { type: binding.CKA_LABEL, value: label },
    { type: binding.CKA_TOKEN, value: true },
    { type: binding.CKA_PRIVATE, value: true },
    { type: binding.CKA_SENSITIVE, value: true },
    { type: binding.CKA_EXTRACTABLE, value: false },
    { type: binding.CKA_ENCRYPT, value: true },
    { type: binding.CKA_DECRYPT, value: true },
  ]);
}

function finalize(module: Pkcs11Module.PKCS11): void {
  try {
    module.C_Finalize();
  } catch {
    // Finalizing a module that failed to initialize raises; there is nothing left to release.
  }
}
