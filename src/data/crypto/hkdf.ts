import { hkdfSync } from 'node:crypto';

import { CryptoParameterError } from './errors.js';
import { encodeLengthPrefixed } from './length-prefixed.js';

/** HKDF-SHA256 output limit in bytes: 255 blocks of 32 bytes (RFC 5869, section 2.3). */
export const HKDF_SHA256_MAX_LENGTH = 255 * 32;

/**
 * Derives `length` bytes with HKDF-SHA256 (RFC 5869) and returns them in a new Buffer that the
 * caller may zero after use.
 *
 * @throws CryptoParameterError when `length` is not between 1 and 8160.
 */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Buffer {
  if (!Number.isInteger(length) || length < 1 || length > HKDF_SHA256_MAX_LENGTH) {
    throw new CryptoParameterError(
      `invalid HKDF-SHA256 output length ${length}: expected 1 to ${HKDF_SHA256_MAX_LENGTH} bytes`,
    );
  }
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

/**
 * Purpose of a sub-key derived from a data key. Each purpose feeds exactly one algorithm, so one
 * data key never serves both AES-GCM and HMAC directly.
 */
export type SubkeyPurpose = 'field-encryption' | 'blind-index';

const SUBKEY_LABEL = 'mindweave/data-key-subkey/v1';

/**
 * Derives the 32-byte sub-key for `purpose` from a data key. The HKDF info names the purpose, the
 * data key id and its version, so sub-keys of different keys, versions or purposes are unrelated.
 */
export function deriveSubkey(
  dataKey: Uint8Array,
  purpose: SubkeyPurpose,
  keyId: string,
  version: number,
): Buffer {
  const info = encodeLengthPrefixed([SUBKEY_LABEL, purpose, keyId, version]);
  // RFC 5869 makes the salt optional, and an empty salt acts as 32 zero bytes. The data key is
  // already uniformly random, so a salt would add nothing here.
  return hkdfSha256(dataKey, Buffer.alloc(0), info, 32);
}
