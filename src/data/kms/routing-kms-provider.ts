import type {
  EncryptionContext,
  GeneratedDataKey,
  KmsKeyDescription,
  KmsProvider,
} from './kms-provider.js';
import { KmsError } from './kms-provider.js';

/** A provider together with the master key ids it holds. */
export interface RoutedProvider {
  provider: KmsProvider;
  masterKeyIds: readonly string[];
}

/**
 * KMS provider that sends each call to the provider holding the requested master key, so purpose
 * keys wrapped by another provider stay readable during a migration. The primary provider
 * encrypts and decrypts. The decrypt-only providers only decrypt and describe, so no new key
 * is ever wrapped under them.
 */
export class RoutingKmsProvider implements KmsProvider {
  readonly providerName: string;
  readonly #primary: RoutedProvider;
  readonly #decryptOnly: readonly RoutedProvider[];

  constructor(primary: RoutedProvider, decryptOnly: readonly RoutedProvider[]) {
    this.providerName = primary.provider.providerName;
    this.#primary = primary;
    this.#decryptOnly = decryptOnly;
  }

  /** Ids of the master keys that can encrypt, those of the primary provider. */
  get encryptingMasterKeyIds(): readonly string[] {
    return this.#primary.masterKeyIds;
  }

  /** Lists every master key id of the providers, primary first, with the provider's name. */
  heldMasterKeys(): { masterKeyId: string; provider: string; decryptOnly: boolean }[] {
    return [
      ...this.#primary.masterKeyIds.map((masterKeyId) => ({
        masterKeyId,
        provider: this.#primary.provider.providerName,
        decryptOnly: false,
      })),
      ...this.#decryptOnly.flatMap((routed) =>
        routed.masterKeyIds.map((masterKeyId) => ({
          masterKeyId,
          provider: routed.provider.providerName,
          decryptOnly: true,
        })),
      ),
    ];
  }

  #forDecryption(masterKeyId: string): KmsProvider {
    if (this.#primary.masterKeyIds.includes(masterKeyId)) return this.#primary.provider;
    const routed = this.#decryptOnly.find((entry) => entry.masterKeyIds.includes(masterKeyId));
    if (routed === undefined) {
      throw new KmsError(
        `master key ${JSON.stringify(masterKeyId)} is held by no configured KMS provider`,
      );
    }
    return routed.provider;
  }

  #forEncryption(masterKeyId: string): KmsProvider {
    if (!this.#primary.masterKeyIds.includes(masterKeyId)) {
      throw new KmsError(
        `master key ${JSON.stringify(masterKeyId)} cannot encrypt: only the configured ` +
          `${this.#primary.provider.providerName} provider's keys do, and other providers are ` +
          `decrypt-only`,
      );
    }
    return this.#primary.provider;
  }

  generateDataKey(
    masterKeyId: string,
    context: EncryptionContext,
    lengthBytes?: number,
  ): Promise<GeneratedDataKey> {
    return Promise.resolve().then(() =>
      this.#forEncryption(masterKeyId).generateDataKey(masterKeyId, context, lengthBytes),
    );
  }

  encrypt(masterKeyId: string, plaintext: Uint8Array, context: EncryptionContext): Promise<Buffer> {
    return Promise.resolve().then(() =>
      this.#forEncryption(masterKeyId).encrypt(masterKeyId, plaintext, context),
    );
  }

  decrypt(
    masterKeyId: string,
    ciphertextBlob: Uint8Array,
    context: EncryptionContext,
  ): Promise<Buffer> {
    return Promise.resolve().then(() =>
      this.#forDecryption(masterKeyId).decrypt(masterKeyId, ciphertextBlob, context),
    );
  }

  describe(masterKeyId: string): Promise<KmsKeyDescription> {
    return Promise.resolve().then(() => this.#forDecryption(masterKeyId).describe(masterKeyId));
  }

  productionWarning(nodeEnv: string | undefined): string | undefined {
    const warnings = [this.#primary, ...this.#decryptOnly]
      .map((routed) => routed.provider.productionWarning(nodeEnv))
      .filter((warning) => warning !== undefined);
    return warnings.length === 0 ? undefined : warnings.join('; ');
  }

  async close(): Promise<void> {
    for (const routed of [this.#primary, ...this.#decryptOnly]) {
      await routed.provider.close?.();
    }
  }
}
