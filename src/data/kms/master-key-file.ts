/* eslint-disable security/detect-non-literal-fs-filename -- the key folder and file name come
   from server configuration, never from request data. */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, lstat, mkdir, open, unlink } from 'node:fs/promises';
import path from 'node:path';

import { KmsError } from './kms-provider.js';

/** Master key length in bytes (AES-256). */
export const MASTER_KEY_LENGTH = 32;

const FILE_FORMAT = 'mindweave-local-master-key';
const FILE_FORMAT_VERSION = 1;

/** Master key as stored in a local key file. */
export interface MasterKeyFile {
  masterKeyId: string;
  createdAt: Date;
  /** Raw key bytes. */
  key: Buffer;
}

interface SerializedKeyFile {
  format: string;
  version: number;
  masterKeyId: string;
  createdAt: string;
  key: string;
}

// Mode bits are not enforced on Windows, so the permission checks only run on POSIX systems.
const CHECK_MODES = process.platform !== 'win32';

function describeMode(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

async function checkDirectory(directory: string): Promise<void> {
  const stats = await lstat(directory);
  if (!stats.isDirectory()) {
    throw new KmsError(
      `master key folder ${directory} is not a directory (symlinks are not followed)`,
    );
  }
  // A folder that others can write lets them replace the key file, so it is rejected.
  if (CHECK_MODES && (stats.mode & 0o022) !== 0) {
    throw new KmsError(
      `master key folder ${directory} has mode ${describeMode(stats.mode)}, which lets group or ` +
        `other users write to it; run chmod 700 on it`,
    );
  }
}

function serialize(file: MasterKeyFile): string {
  const serialized: SerializedKeyFile = {
    format: FILE_FORMAT,
    version: FILE_FORMAT_VERSION,
    masterKeyId: file.masterKeyId,
    createdAt: file.createdAt.toISOString(),
    key: file.key.toString('base64'),
  };
  return `${JSON.stringify(serialized, null, 2)}\n`;
}

function parse(filePath: string, text: string): MasterKeyFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new KmsError(`master key file ${filePath} is not valid JSON`);
  }
  const record = value as Partial<SerializedKeyFile>;
  if (record.format !== FILE_FORMAT || record.version !== FILE_FORMAT_VERSION) {
    throw new KmsError(
      `master key file ${filePath} has an unknown format. Expected ${FILE_FORMAT} version ` +
        `${FILE_FORMAT_VERSION}`,
    );
  }
  const key = Buffer.from(String(record.key), 'base64');
  const createdAt = new Date(String(record.createdAt));
  if (key.length !== MASTER_KEY_LENGTH || typeof record.masterKeyId !== 'string') {
    throw new KmsError(`master key file ${filePath} does not contain a ${MASTER_KEY_LENGTH}-byte key`);
  }
  if (Number.isNaN(createdAt.getTime())) {
    throw new KmsError(`master key file ${filePath} has an invalid createdAt`);
  }
  return { masterKeyId: record.masterKeyId, createdAt, key };
}

/**
 * Reads a master key file, rejecting it unless it is a regular file (not a symlink) owned by this
 * process's user with no group or other permission bits.
 */
export async function loadMasterKeyFile(filePath: string): Promise<MasterKeyFile> {
  // O_NOFOLLOW makes open fail on a symlink, so the checks below apply to the file actually read.
  const handle = await open(filePath, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw new KmsError(`master key file ${filePath} is not a regular file`);
    }
    if (CHECK_MODES && (stats.mode & 0o077) !== 0) {
      throw new KmsError(
        `master key file ${filePath} has mode ${describeMode(stats.mode)}, which gives group or ` +
          `other users access; run chmod 600 on it`,
      );
    }
    const uid = process.getuid?.();
    if (CHECK_MODES && uid !== undefined && stats.uid !== uid) {
      throw new KmsError(
        `master key file ${filePath} is owned by uid ${stats.uid}, not by this process (uid ${uid})`,
      );
    }
    return parse(filePath, await handle.readFile('utf8'));
  } finally {
    await handle.close();
  }
}

/** Writes a new random key file. Returns false when a file already exists at `filePath`. */
async function writeNewKeyFile(filePath: string, masterKeyId: string): Promise<boolean> {
  const file: MasterKeyFile = {
    masterKeyId,
    createdAt: new Date(),
    key: randomBytes(MASTER_KEY_LENGTH),
  };
  const temporaryPath = `${filePath}.${randomBytes(6).toString('hex')}.tmp`;
  // 'wx' is O_CREAT | O_EXCL: the file is created with mode 0600 or the call fails.
  const handle = await open(temporaryPath, 'wx', 0o600);
  try {
    await handle.writeFile(serialize(file), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
    file.key.fill(0);
  }
  try {
    // link() fails if the target exists, so two processes starting at once cannot both install a
    // key, and readers never see a partly written file.
    await link(temporaryPath, filePath);
    return true;
  } catch (error) {
    // EEXIST means another process installed a key first, and the caller decides what follows.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw error;
    }
    return false;
  } finally {
    await unlink(temporaryPath);
  }
}

/**
 * Loads the master key from `fileName` inside `directory`, first creating the folder (mode 0700)
 * and a new random key file (mode 0600) when they do not exist.
 */
export async function loadOrCreateMasterKeyFile(
  directory: string,
  fileName: string,
  masterKeyId: string,
): Promise<MasterKeyFile> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await checkDirectory(directory);
  const filePath = path.join(directory, fileName);
  try {
    return await loadMasterKeyFile(filePath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw error;
    }
  }
  await writeNewKeyFile(filePath, masterKeyId);
  return loadMasterKeyFile(filePath);
}

/**
 * Creates a new master key file `fileName` (mode 0600) in an existing, owner-only `directory`,
 * for a rotation. It never replaces a file.
 *
 * @throws KmsError when the folder is unsafe or the file already exists.
 */
export async function createMasterKeyFile(
  directory: string,
  fileName: string,
  masterKeyId: string,
): Promise<MasterKeyFile> {
  await checkDirectory(directory);
  const filePath = path.join(directory, fileName);
  if (!(await writeNewKeyFile(filePath, masterKeyId))) {
    throw new KmsError(
      `master key file ${filePath} already exists. Another rotation may be running; try again.`,
    );
  }
  return loadMasterKeyFile(filePath);
}

/**
 * Loads the master key file at `fileName` in `directory` without creating anything, after the
 * same folder checks as {@link loadOrCreateMasterKeyFile}.
 */
export async function loadExistingMasterKeyFile(
  directory: string,
  fileName: string,
): Promise<MasterKeyFile> {
  await checkDirectory(directory);
  return loadMasterKeyFile(path.join(directory, fileName));
}
