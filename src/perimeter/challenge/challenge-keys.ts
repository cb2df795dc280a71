/* eslint-disable security/detect-non-literal-fs-filename -- the key path is built from the
   data folder setting, not from request input. */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import type { Config } from '../../config/config.schema.js';
import { hkdfSha256 } from '../../data/crypto/hkdf.js';

const KEY_BYTES = 32;

// Group and other permission bits are not checked where the platform does not enforce them.
const CHECK_MODES = process.platform !== 'win32';

/** The HMAC-SHA256 keys of challenges and passes, derived from one root secret. */
export interface ChallengeKeys {
  challenge: Buffer;
  pass: Buffer;
}

/** Returns the path of the generated root secret, inside the data folder. */
export function challengeKeyPath(config: Pick<Config, 'MINDWEAVE_DATA_DIR'>): string {
  return join(config.MINDWEAVE_DATA_DIR, 'perimeter-keys', 'challenge.key');
}

/** Reads the key file, creating it with 32 random bytes and mode 0600 when it does not exist. */
async function readOrCreateKeyFile(path: string): Promise<Buffer> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    // The exclusive create lets two servers starting at once on one folder agree on one key.
    const handle = await open(path, 'wx', 0o600);
    try {
      await handle.writeFile(randomBytes(KEY_BYTES));
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const stats = await lstat(path);
  if (!stats.isFile()) throw new Error(`challenge key file ${path} is not a regular file`);
  if (CHECK_MODES && (stats.mode & 0o077) !== 0) {
    throw new Error(
      `challenge key file ${path} is readable or writable by other users: run chmod 600 on it`,
    );
  }
  const key = await readFile(path);
  if (key.length !== KEY_BYTES) {
    throw new Error(
      `challenge key file ${path} must contain ${KEY_BYTES} bytes, found ${key.length}`,
    );
  }
  return key;
}

/**
 * Loads the signing keys of challenges and passes. Every server process behind one address
 * must use the same keys, or a pass issued by one is rejected by the next.
 *
 * The root secret is CHALLENGE_SECRET when set, and otherwise 32 random bytes generated once in
 * `<data dir>/perimeter-keys/challenge.key`. Processes that share a data folder share that
 * file. Servers on several hosts copy it, as they already copy the KMS master key of the same
 * folder, or all set one CHALLENGE_SECRET. The key hierarchy is not used as the root, because
 * it gives out sub-keys only of per-organization data keys, and a perimeter check belongs to no
 * organization. A required setting would stop a server started with no settings.
 *
 * Two keys are derived with HKDF-SHA256, so a challenge can never be presented as a pass.
 */
export async function loadChallengeKeys(
  config: Pick<Config, 'MINDWEAVE_DATA_DIR' | 'CHALLENGE_SECRET'>,
): Promise<ChallengeKeys> {
  const root = config.CHALLENGE_SECRET
    ? Buffer.from(config.CHALLENGE_SECRET, 'utf8')
    : await readOrCreateKeyFile(challengeKeyPath(config));
  const derive = (label: string) => hkdfSha256(root, Buffer.alloc(0), Buffer.from(label), 32);
  const keys = {
    challenge: derive('mindweave/perimeter-challenge/v1'),
    pass: derive('mindweave/perimeter-challenge-pass/v1'),
  };
  root.fill(0);
  return keys;
}
