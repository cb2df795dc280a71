import { GCM_IV_LENGTH, GCM_TAG_LENGTH } from './aes-gcm.js';

/** Prefix naming format version 1 of a field ciphertext string. */
export const CIPHERTEXT_PREFIX = 'mw1';

/** Key ids are 1 to 64 characters from the base64url alphabet, so they never contain a '.'. */
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Versions are positive decimal integers without leading zeros. */
const VERSION_PATTERN = /^[1-9][0-9]{0,8}$/;

/** Base64url without padding, the only payload alphabet accepted. */
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]+$/;

/** Parts of a field ciphertext string. */
export interface ParsedCiphertext {
  keyId: string;
  keyVersion: number;
  /** `iv || ciphertext || tag` as raw bytes. */
  payload: Buffer;
}

/** Reports whether `keyId` can appear in a ciphertext header. */
export function isValidKeyId(keyId: string): boolean {
  return KEY_ID_PATTERN.test(keyId);
}

/**
 * Formats a field ciphertext as `mw1.<keyId>.<keyVersion>.<base64url(iv || ciphertext || tag)>`.
 *
 * @throws RangeError when the key id or version cannot be represented in the header.
 */
export function formatCiphertext(parsed: ParsedCiphertext): string {
  if (!isValidKeyId(parsed.keyId)) {
    throw new RangeError(`invalid key id ${JSON.stringify(parsed.keyId)} for a ciphertext header`);
  }
  if (!VERSION_PATTERN.test(String(parsed.keyVersion))) {
    throw new RangeError(`invalid key version ${parsed.keyVersion} for a ciphertext header`);
  }
  const payload = parsed.payload.toString('base64url');
  return `${CIPHERTEXT_PREFIX}.${parsed.keyId}.${parsed.keyVersion}.${payload}`;
}

/**
 * Parses a field ciphertext string without decrypting it, so callers can read the key id and
 * version (for example to find rows that still use an old key version). Returns undefined for any
 * string that is not a well-formed `mw1` ciphertext.
 */
export function parseCiphertext(text: string): ParsedCiphertext | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) {
    return undefined;
  }
  const [prefix, keyId, version, payload] = parts as [string, string, string, string];
  if (prefix !== CIPHERTEXT_PREFIX || !isValidKeyId(keyId) || !VERSION_PATTERN.test(version)) {
    return undefined;
  }
  if (!BASE64URL_PATTERN.test(payload)) {
    return undefined;
  }
  const bytes = Buffer.from(payload, 'base64url');
  // Reject non-canonical base64url (trailing bits set), so each ciphertext has one spelling.
  if (bytes.toString('base64url') !== payload) {
    return undefined;
  }
  if (bytes.length < GCM_IV_LENGTH + GCM_TAG_LENGTH) {
    return undefined;
  }
  return { keyId, keyVersion: Number(version), payload: bytes };
}
