/**
 * String map bound to every KMS operation as authenticated data. Decryption succeeds only with
 * the same map that was given to encryption. AWS KMS takes it as EncryptionContext. Vault Transit
 * keys with derivation enabled take a binary `context` that selects a derived key, so a Vault
 * provider would pass an encoding of this map. The local provider puts it into AES-GCM
 * associated data.
 */
export type EncryptionContext = Readonly<Record<string, string>>;

/** A fresh data key in plaintext together with its copy encrypted under a master key. */
export interface GeneratedDataKey {
  /** Plaintext key bytes. The caller should zero them when done. */
  plaintext: Buffer;
  /** The same key encrypted by the provider, opaque to callers. */
  ciphertextBlob: Buffer;
  /** Master key that encrypted `ciphertextBlob`. */
  masterKeyId: string;
}

/** Metadata about a master key, as a provider reports it. */
export interface KmsKeyDescription {
  masterKeyId: string;
  /** Provider name, such as `local-file`. */
  provider: string;
  /** Algorithm the provider uses to encrypt under this key, such as `AES-256-GCM`. */
  algorithm: string;
  /** Whether the key can currently encrypt and decrypt. */
  enabled: boolean;
  createdAt?: Date;
}

/**
 * Key management service that stores master keys and never reveals them.
 *
 * The method set follows AWS KMS (GenerateDataKey, Encrypt, Decrypt, DescribeKey) so that AWS KMS
 * and Vault Transit providers can implement it directly. Every method is async because those
 * providers call a network service. Implementations must authenticate `context` and fail
 * decryption when it differs from the encryption call.
 */
export interface KmsProvider {
  /** Provider name, recorded in key metadata and logs. */
  readonly providerName: string;

  /** Generates a random data key and returns it both in plaintext and encrypted. */
  generateDataKey(
    masterKeyId: string,
    context: EncryptionContext,
    lengthBytes?: number,
  ): Promise<GeneratedDataKey>;

  /** Encrypts a small secret, such as another key, under a master key. */
  encrypt(masterKeyId: string, plaintext: Uint8Array, context: EncryptionContext): Promise<Buffer>;

  /**
   * Decrypts a blob produced by `encrypt` or `generateDataKey`.
   *
   * @throws DecryptionError when the blob or context does not authenticate.
   */
  decrypt(
    masterKeyId: string,
    ciphertextBlob: Uint8Array,
    context: EncryptionContext,
  ): Promise<Buffer>;

  /** Returns metadata about a master key. */
  describe(masterKeyId: string): Promise<KmsKeyDescription>;

  /**
   * Returns a warning for the server to log when this provider is unsuitable for the given
   * NODE_ENV value, or undefined when there is nothing to warn about.
   */
  productionWarning(nodeEnv: string | undefined): string | undefined;

  /**
   * Releases what the provider holds open, such as an HSM session. Later calls fail. Providers
   * that hold nothing open omit it.
   */
  close?(): Promise<void>;
}

/** Error raised by a KMS provider for a failure other than decryption of a bad blob. */
export class KmsError extends Error {
  override readonly name = 'KmsError';
}
