/**
 * Error raised by every field or key decryption that fails.
 *
 * The message is always "decryption failed". A malformed ciphertext, an unknown or destroyed key
 * version, a wrong tenant, row or column and a bad authentication tag all raise this same error,
 * so a caller (or an attacker probing an API) learns nothing about which check failed.
 */
export class DecryptionError extends Error {
  override readonly name = 'DecryptionError';

  constructor() {
    super('decryption failed');
  }
}

/**
 * Error raised when a key exists but its state forbids the requested operation, for example
 * encrypting under a version that is decrypt_only or destroying a key before its deletion date.
 */
export class KeyStateError extends Error {
  override readonly name = 'KeyStateError';
}

/**
 * Error raised when a data key version has reached its maximum number of encryptions. The key
 * must be rotated before more data can be encrypted under it.
 */
export class KeyUsageLimitError extends Error {
  override readonly name = 'KeyUsageLimitError';
}

/** Error raised for an argument that cannot be valid, such as a key of the wrong length. */
export class CryptoParameterError extends Error {
  override readonly name = 'CryptoParameterError';
}

/** Error raised when a key id and version do not exist in the key store. */
export class KeyNotFoundError extends Error {
  override readonly name = 'KeyNotFoundError';
}

/**
 * Error raised by a key store when an insert collides with stored state: the key version already
 * exists, or the (purpose, owner) already has another key id. Another process usually made the
 * same change first, so the caller re-reads the store.
 */
export class KeyConflictError extends Error {
  override readonly name = 'KeyConflictError';
}
