import { createHmac, randomBytes } from 'node:crypto';

import { DecryptionError, KeyNotFoundError, KeyStateError } from '../../data/crypto/errors.js';
import type { KeyHierarchy } from '../../data/crypto/key-hierarchy.js';
import { encodeLengthPrefixed } from '../../data/crypto/length-prefixed.js';
import type { Database } from '../../data/database/database.js';

const KEY_BYTES = 32;
const NAME_LABEL = 'mindweave/login-throttle-name/v1';
const ACTOR = 'login-throttle';

/**
 * Names sign-in throttle counters in Redis by HMAC-SHA256 under a secret key, so that someone who
 * can list the Redis keys cannot test them against a list of emails or addresses.
 */
export class LoginThrottleKeyHash {
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_BYTES) {
      throw new RangeError(`invalid login throttle key: expected ${KEY_BYTES} bytes`);
    }
    this.#key = Buffer.from(key);
  }

  /** Returns the counter name of `key` in `scope`, 43 base64url characters long. */
  name(scope: string, key: string): string {
    return createHmac('sha256', this.#key)
      .update(encodeLengthPrefixed([NAME_LABEL, scope, key]))
      .digest('base64url');
  }
}

interface StoredKey {
  wrappedKey: Buffer;
  version: number;
}

function wrapContext(version: number): Record<string, string> {
  return { use: 'login_throttle_key', applicationVersion: String(version) };
}

async function readStoredKey(db: Database): Promise<StoredKey | null> {
  const result = await db.query<StoredKey>(
    `SELECT wrapped_key AS "wrappedKey", application_key_version AS version
       FROM login_throttle_keys WHERE id = 1`,
  );
  return result.rows[0] ?? null;
}

async function wrap(hierarchy: KeyHierarchy, material: Buffer) {
  return hierarchy.wrapWithPurposeKey('application', material, wrapContext, ACTOR);
}

/**
 * Replaces the stored wrap `previous`, or inserts the row when `previous` is null. Returns false
 * when another process changed the row first.
 */
async function replaceStoredKey(
  db: Database,
  previous: StoredKey | null,
  next: { version: number; wrapped: Buffer },
): Promise<boolean> {
  if (previous === null) {
    const inserted = await db.query(
      `INSERT INTO login_throttle_keys (id, wrapped_key, application_key_version)
       VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING`,
      [next.wrapped, next.version],
    );
    return inserted.rowCount > 0;
  }
  const updated = await db.query(
    `UPDATE login_throttle_keys SET wrapped_key = $1, application_key_version = $2
      WHERE id = 1 AND wrapped_key = $3`,
    [next.wrapped, next.version, previous.wrappedKey],
  );
  return updated.rowCount > 0;
}

/**
 * Loads the key that names sign-in throttle counters, creating it on first use. The key is
 * random, stored in `login_throttle_keys` wrapped under the `application` purpose key, and shared
 * by every server on the database, so they all name an account's counter alike.
 *
 * A key wrapped under an older `application` version is wrapped again under the active one. A
 * key that can no longer be unwrapped (its wrapping version was destroyed) is replaced by a new
 * one, which starts every account's failure count from zero.
 *
 * @throws KmsError and key store errors, which stop the server start.
 */
export async function loadLoginThrottleKey(
  db: Database,
  hierarchy: KeyHierarchy,
): Promise<LoginThrottleKeyHash> {
  // After a lost race with another starting server, the loop reads the key that server stored.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const stored = await readStoredKey(db);
    let material: Buffer | null = null;
    if (stored !== null) {
      material = await unwrapStoredKey(hierarchy, stored);
    }
    const fresh = material === null;
    material ??= randomBytes(KEY_BYTES);
    try {
      const wrapped = await wrap(hierarchy, material);
      const current = !fresh && stored !== null && stored.version === wrapped.version;
      if (current || (await replaceStoredKey(db, stored, wrapped))) {
        return new LoginThrottleKeyHash(material);
      }
    } finally {
      material.fill(0);
    }
  }
  throw new Error('login throttle key kept changing while it was loaded; restart the server');
}

async function unwrapStoredKey(hierarchy: KeyHierarchy, stored: StoredKey): Promise<Buffer | null> {
  try {
    return await hierarchy.unwrapWithPurposeKey(
      'application',
      stored.version,
      stored.wrappedKey,
      wrapContext(stored.version),
      ACTOR,
    );
  } catch (error) {
    if (
      error instanceof DecryptionError ||
      error instanceof KeyNotFoundError ||
      error instanceof KeyStateError
    ) {
      return null;
    }
    throw error;
  }
}
