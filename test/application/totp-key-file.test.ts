/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { legacyTotpOpener } from '../../src/application/auth/identity.js';
import { TotpSecretSealer } from '../../src/application/mfa/totp-secret-sealer.js';
import type { Database } from '../../src/data/database/database.js';
import { openMemoryDatabase } from '../../src/data/database/embedded-database.js';
import { migrate } from '../../src/data/database/migrate.js';
import { APPLICATION_ROLE } from '../../src/data/database/open-database.js';
import {
  openDataProtection,
  type DataProtection,
} from '../../src/data/key-store/data-protection.js';
import { uninstallUserFieldProtection } from '../../src/data/personal-data/user-field-registry.js';
import { startUserFieldProtection } from '../../src/data/personal-data/user-field-startup.js';
import { insertUser } from '../../src/tenancy/users/user.repository.js';

const USER = '6f1c0a4e-2b7d-4c1e-9a53-0d8e7f6a5b41';
const POSIX = process.platform !== 'win32';

let folder: string;

/** Writes a 32-byte key file with `mode` in a new 0700 folder and returns its path. */
async function keyFile(name: string, mode: number, key = randomBytes(32)): Promise<string> {
  const directory = join(folder, name);
  await mkdir(directory, { mode: 0o700 });
  const path = join(directory, 'totp-secret.key');
  await writeFile(path, key, { mode });
  await chmod(path, mode);
  return path;
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mindweave-totp-key-file-'));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe.runIf(POSIX)('TOTP key file checks', () => {
  it('opens an owner-only file', async () => {
    const key = randomBytes(32);
    const path = await keyFile('private', 0o600, key);
    const sealed = TotpSecretSealer.withKey(key).seal(USER, Buffer.from('secret'));
    const opened = await TotpSecretSealer.open(path);
    expect(opened.open(USER, sealed)).toEqual(Buffer.from('secret'));
  });

  it('rejects a 0644 file', async () => {
    const path = await keyFile('readable', 0o644);
    await expect(TotpSecretSealer.open(path)).rejects.toThrow(
      `TOTP key file ${path} has mode 0644, which gives group or other users access; ` +
        'run chmod 600 on it',
    );
  });

  it('rejects a group-readable file', async () => {
    const path = await keyFile('group', 0o640);
    await expect(TotpSecretSealer.open(path)).rejects.toThrow('has mode 0640');
  });

  it('rejects a symlink', async () => {
    const target = await keyFile('target', 0o600);
    const directory = join(folder, 'linked');
    await mkdir(directory, { mode: 0o700 });
    const path = join(directory, 'totp-secret.key');
    await symlink(target, path);
    await expect(TotpSecretSealer.open(path)).rejects.toThrow(`TOTP key file ${path} is a symlink`);
  });

  it('rejects a directory', async () => {
    const directory = join(folder, 'not-a-file');
    await mkdir(join(directory, 'totp-secret.key'), { recursive: true, mode: 0o700 });
    await expect(TotpSecretSealer.open(join(directory, 'totp-secret.key'))).rejects.toThrow(
      'is not a regular file',
    );
  });

  // Only root can give a file to another user.
  it.runIf(process.getuid?.() === 0)('rejects a file of another owner', async () => {
    const path = await keyFile('foreign', 0o600);
    await chown(path, 12345, 12345);
    await expect(TotpSecretSealer.open(path)).rejects.toThrow(
      `TOTP key file ${path} is owned by uid 12345, not by this process (uid 0)`,
    );
  });

  it('rejects a group-writable folder', async () => {
    const path = await keyFile('shared-folder', 0o600);
    await chmod(join(folder, 'shared-folder'), 0o770);
    await expect(TotpSecretSealer.open(path)).rejects.toThrow(
      'has mode 0770, which lets group or other users write to it; run chmod 700 on it',
    );
  });
});

describe.runIf(POSIX)('server start with a ts1 secret', () => {
  let db: Database;
  let keys: DataProtection;
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    db = await openMemoryDatabase();
    await migrate(db);
    await db.query(`SET ROLE ${APPLICATION_ROLE}`);
    keys = await openDataProtection(
      { MINDWEAVE_DATA_DIR: join(folder, 'data'), KMS_MASTER_KEY_DIR: undefined },
      db,
      logger,
      'test',
    );
  }, 120_000);

  afterAll(async () => {
    await keys?.close();
    await db?.close();
  });

  it('stops on a 0644 key file', async () => {
    const key = randomBytes(32);
    const path = await keyFile('start', 0o644, key);
    const user = await insertUser(db, {
      email: 'totp-legacy@example.org',
      name: 'Legacy TOTP',
      passwordHash: null,
      mustChangePassword: false,
    });
    const sealed = TotpSecretSealer.withKey(key).seal(user.id, Buffer.alloc(20, 7));
    await db.query('INSERT INTO user_totp_factors (user_id, secret_sealed) VALUES ($1, $2)', [
      user.id,
      sealed,
    ]);

    await expect(
      startUserFieldProtection(db, keys, logger, legacyTotpOpener(path)),
    ).rejects.toThrow('has mode 0644');
    const stored = await db.query<{ sealed: string }>(
      'SELECT secret_sealed AS sealed FROM user_totp_factors WHERE user_id = $1',
      [user.id],
    );
    expect(stored.rows[0]?.sealed).toBe(sealed);

    await chmod(path, 0o600);
    const protection = await startUserFieldProtection(db, keys, logger, legacyTotpOpener(path));
    try {
      const migrated = await db.query<{ sealed: string }>(
        'SELECT secret_sealed AS sealed FROM user_totp_factors WHERE user_id = $1',
        [user.id],
      );
      expect(migrated.rows[0]?.sealed).toMatch(/^mw1\./);
    } finally {
      uninstallUserFieldProtection(protection);
    }
  });
});
