/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { REPO_ROOT } from '../../cli/cli-process.js';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.js';

interface ServeResult {
  code: number | null;
  stderr: string;
}

/** Runs `mindweave serve` from the TypeScript sources until it exits, for up to 60 s. */
function serve(env: Record<string, string>): Promise<ServeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: '0', ...env },
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

let database: TestDatabase;
let folder: string;
let env: Record<string, string>;

beforeAll(async () => {
  database = await createTestDatabase();
  folder = await mkdtemp(join(tmpdir(), 'mindweave-geo-start-'));
  env = { DATABASE_URL: database.url, MINDWEAVE_DATA_DIR: join(folder, 'data') };
});

afterAll(async () => {
  await database?.drop();
  await rm(folder, { recursive: true, force: true });
});

describe('geo settings at start', { timeout: 120_000 }, () => {
  it('malformed line stops the start with exit 2', async () => {
    const file = join(folder, 'bad.csv');
    await writeFile(
      file,
      '1.0.0.0,1.0.0.255,AU\n2001:200::,2001:200::ffff,JP\n5.45.192.0,5.45.192.x,RU\n',
    );
    const result = await serve({ ...env, GEO_BLOCK_COUNTRIES: 'RU', GEOIP_DB_FILE: file });
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('invalid configuration: GEOIP_DB_FILE');
    expect(lines[0]).toContain(`line 3 of ${file}`);
    expect(lines[0]).toContain('the end address "5.45.192.x"');
  });

  it('countries without a database stop the start', async () => {
    const result = await serve({ ...env, GEO_BLOCK_COUNTRIES: 'RU' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('GEO_BLOCK_COUNTRIES is set but GEOIP_DB_FILE is not');
  });

  it('missing database file stops the start', async () => {
    const file = join(folder, 'missing.csv');
    const result = await serve({ ...env, GEO_BLOCK_COUNTRIES: 'RU', GEOIP_DB_FILE: file });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `GEOIP_DB_FILE names a file that cannot be read (ENOENT): ${file}`,
    );
  });

  it('invalid country code stops the start', async () => {
    const result = await serve({ ...env, GEO_BLOCK_COUNTRIES: 'RU,Russia' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'GEO_BLOCK_COUNTRIES must list ISO 3166-1 alpha-2 country codes',
    );
  });
});
