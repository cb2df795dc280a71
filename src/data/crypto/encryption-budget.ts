import { KeyUsageLimitError } from './errors.js';
import type { KeyStore } from './key-store.js';
import type { KeyVersionRef } from './key-types.js';

/** Default maximum number of encryptions per data key version: 2^30. */
export const DEFAULT_MAX_ENCRYPTIONS_PER_VERSION = 2 ** 30;

/** Limits on how many encryptions one key version may perform. */
export interface EncryptionLimitOptions {
  /**
   * Maximum encryptions per key version. Defaults to 2^30. With random 96-bit IVs, NIST SP
   * 800-38D allows at most 2^32 encryptions per key, and 2^30 keeps the IV collision probability
   * below about 2^-37.
   */
  maxPerVersion?: number;
  /** Fraction of `maxPerVersion` after which rotation is reported as needed. Defaults to 0.9. */
  rotationThreshold?: number;
  /**
   * Encryptions reserved from the store at once, so the store is written once per block instead
   * of once per encryption. Reserved but unused encryptions are lost when the process stops,
   * which only makes the count higher than real. Defaults to 1024.
   */
  reservationBlock?: number;
}

/** Notice that a key version has passed its rotation threshold. */
export interface RotationNotice extends KeyVersionRef {
  /** Encryptions counted so far, including reserved ones. */
  encryptions: number;
  maxPerVersion: number;
}

interface Reservation {
  remaining: number;
  total: number;
}

function refKey(ref: KeyVersionRef): string {
  return `${ref.keyId}#${ref.version}`;
}

/** Counts encryptions per key version against a limit, reserving counts from the key store in blocks. */
export class EncryptionBudget {
  readonly #store: KeyStore;
  readonly #maxPerVersion: number;
  readonly #rotationAt: number;
  readonly #block: number;
  readonly #onRotationNeeded: ((notice: RotationNotice) => void) | undefined;
  readonly #reservations = new Map<string, Reservation>();
  readonly #notified = new Set<string>();

  constructor(
    store: KeyStore,
    options: EncryptionLimitOptions = {},
    onRotationNeeded?: (notice: RotationNotice) => void,
  ) {
    const maxPerVersion = options.maxPerVersion ?? DEFAULT_MAX_ENCRYPTIONS_PER_VERSION;
    const threshold = options.rotationThreshold ?? 0.9;
    if (!Number.isSafeInteger(maxPerVersion) || maxPerVersion < 1 || maxPerVersion > 2 ** 32) {
      throw new RangeError(`invalid maxPerVersion ${maxPerVersion}: expected 1 to 2^32`);
    }
    if (!(threshold > 0 && threshold <= 1)) {
      throw new RangeError(`invalid rotationThreshold ${threshold}: expected a value in (0, 1]`);
    }
    this.#store = store;
    this.#maxPerVersion = maxPerVersion;
    this.#rotationAt = Math.ceil(maxPerVersion * threshold);
    this.#block = Math.max(1, Math.min(options.reservationBlock ?? 1024, maxPerVersion));
    this.#onRotationNeeded = onRotationNeeded;
  }

  /**
   * Reserves one encryption under `ref`.
   *
   * @throws KeyUsageLimitError when the version has reached its limit and must be rotated.
   */
  async reserve(ref: KeyVersionRef): Promise<void> {
    const id = refKey(ref);
    const reservation = this.#reservations.get(id);
    if (reservation !== undefined && reservation.remaining > 0) {
      reservation.remaining -= 1;
      return;
    }
    const total = await this.#store.addEncryptions(ref.keyId, ref.version, this.#block);
    const granted = Math.min(this.#block, this.#maxPerVersion - (total - this.#block));
    this.#reservations.set(id, { remaining: Math.max(0, granted - 1), total });
    if (total >= this.#rotationAt) {
      this.#notify(ref, total);
    }
    if (granted <= 0) {
      throw new KeyUsageLimitError(
        `key ${ref.keyId} version ${ref.version} reached its limit of ${this.#maxPerVersion} ` +
          `encryptions. Rotate the key to continue encrypting.`,
      );
    }
  }

  /** Reports whether `ref` has passed its rotation threshold, as far as this process has seen. */
  isRotationNeeded(ref: KeyVersionRef): boolean {
    const total = this.#reservations.get(refKey(ref))?.total ?? 0;
    return total >= this.#rotationAt;
  }

  #notify(ref: KeyVersionRef, total: number): void {
    const id = refKey(ref);
    if (this.#notified.has(id)) {
      return;
    }
    this.#notified.add(id);
    this.#onRotationNeeded?.({
      keyId: ref.keyId,
      version: ref.version,
      encryptions: Math.min(total, this.#maxPerVersion),
      maxPerVersion: this.#maxPerVersion,
    });
  }
}
