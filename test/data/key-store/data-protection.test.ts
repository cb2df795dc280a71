/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../../../src/data/database/database.js';
import { openMemoryDatabase } from '../../../src/data/database/embedded-database.js';
import { migrate } from '../../../src/data/database/migrate.js';
import { APPLICATION_ROLE } from '../../../src/data/database/open-database.js';
import {
  kmsConfig,
  openDataProtection,
  startKeyMaintenance,
} from '../../../src/data/key-store/data-protection.js';
import { createLogger } from '../../../src/monitoring/logging/logger.js';

function captureLogger(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger('info', sink), lines };
}

describe('openDataProtection', () => {
  let directory: string;
  let db: Database;

  beforeAll(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'mindweave-protection-'));
    db = await openMemoryDatabase();
    await migrate(db);
    await db.query(`SET ROLE ${APPLICATION_ROLE}`);
  });

  afterAll(async () => {
    await db.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('defaults the key folder to the data dir', () => {
    const config = kmsConfig({ MINDWEAVE_DATA_DIR: directory, KMS_MASTER_KEY_DIR: undefined });
    expect(config).toMatchObject({
      type: 'local-file',
      directory: path.join(directory, 'kms'),
      fileName: 'master.key',
    });
  });

  it('creates the master key file with mode 0600', async () => {
    const { logger } = captureLogger();
    const config = { MINDWEAVE_DATA_DIR: directory, KMS_MASTER_KEY_DIR: undefined };
    await openDataProtection(config, db, logger, 'development');
    const file = await stat(path.join(directory, 'kms', 'master.key'));
    expect(file.mode & 0o777).toBe(0o600);
  });

  it('uses KMS_MASTER_KEY_DIR when set', async () => {
    const { logger } = captureLogger();
    const keyDirectory = path.join(directory, 'elsewhere');
    const config = { MINDWEAVE_DATA_DIR: directory, KMS_MASTER_KEY_DIR: keyDirectory };
    // Opening only creates missing keys and checks that the master key is enabled, so it
    // succeeds although the stored purpose keys were wrapped under the first master key.
    await openDataProtection(config, db, logger, 'development');
    expect((await stat(path.join(keyDirectory, 'master.key'))).isFile()).toBe(true);
  });

  it('warns about the local key in production', async () => {
    const { logger, lines } = captureLogger();
    const config = { MINDWEAVE_DATA_DIR: directory, KMS_MASTER_KEY_DIR: undefined };
    await openDataProtection(config, db, logger, 'production');
    const warnings = lines.map((line) => JSON.parse(line) as { level: number; msg: string });
    const warning = warnings.find((line) => line.msg.includes('local-file KMS provider'));
    expect(warning?.level).toBe(40);
  });

  it('encrypts fields and stops maintenance', async () => {
    const { logger } = captureLogger();
    const config = { MINDWEAVE_DATA_DIR: directory, KMS_MASTER_KEY_DIR: undefined };
    const protection = await openDataProtection(config, db, logger, 'development');
    const location = { tenant: 'org-1', table: 'users', column: 'email', rowId: 'user-1' };
    const stored = await protection.fieldCipher.encrypt(location, 'alice@example.com');
    expect(await protection.fieldCipher.decryptString(location, stored)).toBe('alice@example.com');
    const maintenance = startKeyMaintenance(protection.hierarchy, logger);
    maintenance.stop();
  });
});
