import { requireUserFieldProtection } from './user-field-registry.js';

/** Prefix of TOTP secrets sealed by the older local key file, before the key hierarchy. */
export const LEGACY_TOTP_PREFIX = 'ts1.';

/** Opens a TOTP secret sealed by the older local key file. */
export interface LegacyTotpOpener {
  open(userId: string, sealed: string): Buffer;
}

/**
 * Seals TOTP secrets with the field cipher under the user's own data key, bound to the user's
 * `user_totp_factors` row. Secrets sealed under the platform data key by earlier versions still
 * open, and so do secrets sealed by the older local key file (`ts1.`) until the server
 * re-encrypts them at start.
 */
export class TotpSecretCipher {
  readonly #legacy: () => Promise<LegacyTotpOpener>;

  /** `legacy` opens the old key file; it is called only when a `ts1.` value is read. */
  constructor(legacy: () => Promise<LegacyTotpOpener>) {
    this.#legacy = legacy;
  }

  /**
   * @throws Error when the server has no key hierarchy open.
   * @throws KeyStateError when the user's key has no active version (erasure scheduled).
   */
  seal(userId: string, secret: Uint8Array): Promise<string> {
    return requireUserFieldProtection().encryptTotpSecret(userId, secret);
  }

  /** @throws DecryptionError or Error when the value was not sealed for this user. */
  async open(userId: string, sealed: string): Promise<Buffer> {
    if (sealed.startsWith(LEGACY_TOTP_PREFIX)) {
      return (await this.#legacy()).open(userId, sealed);
    }
    return requireUserFieldProtection().decryptTotpSecret(userId, sealed);
  }
}
