/* eslint-disable security/detect-non-literal-fs-filename -- the key path is built from the
   data folder setting, not from request input. */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';

const FORMAT = 'ts1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

// Mode bits are not enforced on Windows, so the permission checks only run on POSIX systems.
const CHECK_MODES = process.platform !== 'win32';

/**
 * Seals TOTP secrets with AES-256-GCM under a key kept in a file of the data folder, so a
 * database dump alone does not reveal them. The associated data binds each sealed secret to
 * its user, so a secret copied to another user's row does not open.
 * TODO: wrap this key under the KMS master key through the key hierarchy. Until then, anyone
 * who reads both the key file and the database can compute the users' codes. Every server
 * that shares a database must use the same key file.
 */
export class TotpSecretSealer {
  private constructor(private readonly key: Buffer) {}

  /**
   * Loads the key file, creating it with mode 0600 when it does not exist. The checks match those
   * of the local master key file. The key must be a regular file (not a symlink) owned by this
   * process's user, with no group or other permission bits. Only its owner may write its folder.
   *
   * @throws Error naming the file and the fix when a check fails.
   */
  static async open(path: string): Promise<TotpSecretSealer> {
    const folder = dirname(path);
    await mkdir(folder, { recursive: true, mode: 0o700 });
    await checkKeyFolder(folder);
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(randomBytes(KEY_BYTES));
      } finally {
        await handle.close();
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    return new TotpSecretSealer(await readKeyFile(path));
  }

  /** A sealer with a given key, for tests. */
  static withKey(key: Buffer): TotpSecretSealer {
    if (key.length !== KEY_BYTES) throw new RangeError(`key must be ${KEY_BYTES} bytes`);
    return new TotpSecretSealer(Buffer.from(key));
  }

  seal(userId: string, secret: Buffer): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(userId));
    const body = Buffer.concat([iv, cipher.update(secret), cipher.final(), cipher.getAuthTag()]);
    return `${FORMAT}.${body.toString('base64url')}`;
  }

  /** Opens a sealed secret; throws when it was not sealed by this key for this user. */
  open(userId: string, sealed: string): Buffer {
    const [format, encoded, extra] = sealed.split('.');
    if (format !== FORMAT || encoded === undefined || extra !== undefined) {
      throw new Error('sealed TOTP secret has an unknown format');
    }
    const body = Buffer.from(encoded, 'base64url');
    if (body.length <= IV_BYTES + TAG_BYTES) throw new Error('sealed TOTP secret is too short');
    const decipher = createDecipheriv('aes-256-gcm', this.key, body.subarray(0, IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(associatedData(userId));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)),
      decipher.final(),
    ]);
  }
}

function describeMode(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

async function checkKeyFolder(folder: string): Promise<void> {
  const stats = await lstat(folder);
  if (!stats.isDirectory()) {
    throw new Error(`TOTP key folder ${folder} is not a directory (symlinks are not followed)`);
  }
  // A folder that others can write lets them replace the key file.
  if (CHECK_MODES && (stats.mode & 0o022) !== 0) {
    throw new Error(
      `TOTP key folder ${folder} has mode ${describeMode(stats.mode)}, which lets group or ` +
        `other users write to it; run chmod 700 on it`,
    );
  }
}

/** Reads the key through one file handle, so the checks apply to the file actually read. */
async function readKeyFile(path: string): Promise<Buffer> {
  let handle;
  try {
    // O_NOFOLLOW fails on a symlink, and O_NONBLOCK keeps a FIFO from blocking the open.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new Error(
        `TOTP key file ${path} is a symlink; replace it with the regular file it points to`,
      );
    }
    throw error;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new Error(`TOTP key file ${path} is not a regular file`);
    if (CHECK_MODES && (stats.mode & 0o077) !== 0) {
      throw new Error(
        `TOTP key file ${path} has mode ${describeMode(stats.mode)}, which gives group or ` +
          `other users access; run chmod 600 on it`,
      );
    }
    const uid = process.getuid?.();
    if (CHECK_MODES && uid !== undefined && stats.uid !== uid) {
      throw new Error(
        `TOTP key file ${path} is owned by uid ${stats.uid}, not by this process (uid ${uid})`,
      );
    }
    const key = await handle.readFile();
    if (key.length !== KEY_BYTES) {
      throw new Error(`TOTP key file ${path} must hold ${KEY_BYTES} bytes, found ${key.length}`);
    }
    return key;
  } finally {
    await handle.close();
  }
}

function associatedData(userId: string): Buffer {
  return Buffer.from(`mindweave/totp-secret/v1:${userId}`, 'utf8');
}
