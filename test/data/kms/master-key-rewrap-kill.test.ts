import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Config } from '../../../src/config/config.schema.js';
import { loadConfig } from '../../../src/config/load-config.js';
import type { Database } from '../../../src/data/database/database.js';
import { migrate } from '../../../src/data/database/migrate.js';
import { openDatabase } from '../../../src/data/database/open-database.js';
import { openDataProtection } from '../../../src/data/key-store/data-protection.js';
import { rotateLocalMasterKey } from '../../../src/data/kms/local-file-provider.js';
import { listMasterKeyReferences } from '../../../src/data/kms/master-key-rewrap.js';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.js';

const run = promisify(execFile);

/** Database key rotations made before the kill, so the re-wrap has many versions to move. */
const ROTATIONS = 40;

let database: TestDatabase;
let dataDir: string;
let env: Record<string, string>;
let config: Config;
let db: Database;

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'mindweave-master-kill-'));
  env = { DATABASE_URL: database.url, MINDWEAVE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  config = loadConfig(env);
  db = await openDatabase(config, 'test master key kill');
  await migrate(db);
}, 120_000);

afterAll(async () => {
  await db?.close();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('keys rewrap-master after SIGKILL', { timeout: 240_000 }, () => {
  it('finishes on the next run', async () => {
    const protection = await openDataProtection(config, db, pino({ level: 'silent' }), 'test');
    const samples: { location: { tenant: string; table: string; column: string; rowId: string }; ciphertext: string }[] = [];
    try {
      const databaseKeyId = await protection.hierarchy.purposeKeyId('database', 'test');
      for (let index = 0; index < ROTATIONS; index += 1) {
        await protection.hierarchy.rotate(databaseKeyId, 'test');
        const location = { tenant: `kill-org-${index}`, table: 'notes', column: 'body', rowId: `r${index}` };
        samples.push({ location, ciphertext: await protection.fieldCipher.encrypt(location, `note ${index}`) });
      }
    } finally {
      await protection.close();
    }
    await rotateLocalMasterKey({ directory: path.join(dataDir, 'kms'), fileName: 'master.key' });

    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'keys', 'rewrap-master'],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const exit = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('close', (_code, signal) => resolve(signal)),
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      // Killed as soon as the first version is saved, while the rest are still under the old key.
      if (stderr.includes('re-wrapped')) child.kill('SIGKILL');
    });
    expect(await exit).toBe('SIGKILL');

    const midway = await listMasterKeyReferences(db);
    const under = (id: string) =>
      midway.find((reference) => reference.masterKeyId === id)?.purposeKeyVersions ?? 0;
    expect(under('local-master-2')).toBeGreaterThan(0);
    expect(under('local-master')).toBeGreaterThan(0);
    expect(under('local-master') + under('local-master-2')).toBe(ROTATIONS + 3);

    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'keys', 'rewrap-master', '--json', '--remove-unreferenced'],
      { env: { ...process.env, ...env } },
    );
    const summary = JSON.parse(stdout) as {
      rewrapped: number;
      references: { masterKeyId: string; purposeKeyVersions: number }[];
    };
    expect(summary.rewrapped).toBe(under('local-master'));
    expect(summary.references).toEqual([
      expect.objectContaining({ masterKeyId: 'local-master-2', purposeKeyVersions: ROTATIONS + 3 }),
    ]);

    const reopened = await openDataProtection(config, db, pino({ level: 'silent' }), 'test');
    try {
      for (const [index, sample] of samples.entries()) {
        expect(await reopened.fieldCipher.decryptString(sample.location, sample.ciphertext)).toBe(`note ${index}`);
      }
    } finally {
      await reopened.close();
    }
  });
});
