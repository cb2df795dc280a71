import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { CipherGCMTypes } from 'node:crypto';

import { CryptoParameterError, DecryptionError } from './errors.js';

/** GCM IV length in bytes. 96 bits is the only IV size GCM processes without hashing it. */
export const GCM_IV_LENGTH = 12;

/** GCM authentication tag length in bytes. Shorter tags are never produced or accepted. */
export const GCM_TAG_LENGTH = 16;

/** AES-256 key length in bytes. */
export const AES_256_KEY_LENGTH = 32;

/** Output of one AES-GCM encryption. */
export interface GcmSealed {
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

function selectAlgorithm(key: Uint8Array): CipherGCMTypes {
  switch (key.length) {
    case 16:
      return 'aes-128-gcm';
    case 24:
      return 'aes-192-gcm';
    case 32:
      return 'aes-256-gcm';
    default:
      throw new CryptoParameterError(
        `invalid AES key length ${key.length} bytes: expected 16, 24 or 32`,
      );
  }
}

function checkIv(iv: Uint8Array): void {
  if (iv.length !== GCM_IV_LENGTH) {
    throw new CryptoParameterError(
      `invalid GCM IV length ${iv.length} bytes: expected ${GCM_IV_LENGTH}`,
    );
  }
}

/**
 * Encrypts with AES-GCM under a caller-chosen 96-bit IV and returns the ciphertext and a 16-byte
 * tag. The key length selects AES-128, -192 or -256, and the field and key-wrapping layers only
 * pass 32-byte keys. This variant exists for known-answer tests. Other code uses
 * {@link aesGcmEncrypt}, because reusing an IV under one key breaks both confidentiality and
 * authenticity.
 *
 * @throws CryptoParameterError when the key or IV length is invalid.
 */
export function aesGcmEncryptWithIv(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): GcmSealed {
  const algorithm = selectAlgorithm(key);
  checkIv(iv);
  // authTagLength is set explicitly so the tag size never depends on a library default.
  const cipher = createCipheriv(algorithm, key, iv, { authTagLength: GCM_TAG_LENGTH });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv: Buffer.from(iv), ciphertext, tag: cipher.getAuthTag() };
}

/**
 * Encrypts with AES-GCM under a fresh random 96-bit IV. NIST SP 800-38D (section 8.3) allows at
 * most 2^32 encryptions per key with random IVs, so callers count uses per key (see the key
 * hierarchy's encryption limit).
 *
 * @throws CryptoParameterError when the key length is invalid.
 */
export function aesGcmEncrypt(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): GcmSealed {
  return aesGcmEncryptWithIv(key, randomBytes(GCM_IV_LENGTH), plaintext, aad);
}

/**
 * Decrypts and authenticates AES-GCM output and returns the plaintext.
 *
 * The tag must be exactly 16 bytes. Node 20 accepts a shorter tag on decipher unless
 * authTagLength is given, and a truncated tag would make forgery far cheaper, so the length is
 * checked before the decipher is created, and authTagLength is also pinned on the decipher.
 *
 * @throws DecryptionError when the IV or tag length is wrong or authentication fails.
 * @throws CryptoParameterError when the key length is invalid.
 */
export function aesGcmDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad: Uint8Array,
): Buffer {
  const algorithm = selectAlgorithm(key);
  if (iv.length !== GCM_IV_LENGTH || tag.length !== GCM_TAG_LENGTH) {
    throw new DecryptionError();
  }
  const decipher = createDecipheriv(algorithm, key, iv, { authTagLength: GCM_TAG_LENGTH });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const plaintext = decipher.update(ciphertext);
  try {
    return Buffer.concat([plaintext, decipher.final()]);
  } catch {
    // Zero the unauthenticated plaintext before discarding it, because it must never be used.
    plaintext.fill(0);
    throw new DecryptionError();
  }
}

/** Joins IV, ciphertext and tag into the single byte string used by stored formats. */
export function concatSealed(sealed: GcmSealed): Buffer {
  return Buffer.concat([sealed.iv, sealed.ciphertext, sealed.tag]);
}

/**
 * Splits `iv || ciphertext || tag` back into its parts.
 *
 * @throws DecryptionError when the input is shorter than an IV plus a tag.
 */
export function splitSealed(bytes: Uint8Array): GcmSealed {
  if (bytes.length < GCM_IV_LENGTH + GCM_TAG_LENGTH) {
    throw new DecryptionError();
  }
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    iv: buffer.subarray(0, GCM_IV_LENGTH),
    ciphertext: buffer.subarray(GCM_IV_LENGTH, buffer.length - GCM_TAG_LENGTH),
    tag: buffer.subarray(buffer.length - GCM_TAG_LENGTH),
  };
}
