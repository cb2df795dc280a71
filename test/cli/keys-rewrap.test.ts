import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ownerSession } from '../support/admin-session.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const run = promisify(execFile);

let t: TestServer;

/** Runs the CLI as its own process against the test server's database and data folder. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      {
        env: {
          ...process.env,
          DATABASE_URL: t.config.DATABASE_URL,
          MINDWEAVE_DATA_DIR: t.config.MINDWEAVE_DATA_DIR,
          LOG_LEVEL: 'warn',
        },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

interface Summary {
  database?: { parentVersion: number; examined: number; rewrapped: number; skipped: number };
  compliance?: { complianceVersion: number; examined: number; rewrapped: number; skipped: number };
  purposeKeys: {
    purpose: string;
    version: number;
    state: string;
    dataKeys: number;
    subjectKeys: number;
  }[];
}

beforeAll(async () => {
  t = await startTestServer();
  // The sign-in seals audit fields under the owner's subject key.
  await ownerSession(t);
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

describe('mindweave keys rewrap', () => {
  it('rejects an unknown purpose', async () => {
    const result = await cli('keys', 'rewrap', '--purpose', 'application');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--purpose must be one of database, compliance');
  });

  it('re-wraps data keys after a database key rotation', async () => {
    const rotated = await cli('keys', 'rotate', '--purpose', 'database');
    expect(rotated.code).toBe(0);

    const first = await cli('keys', 'rewrap', '--purpose', 'database', '--json');
    expect(first.stderr).not.toContain('unexpected failure');
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout) as Summary;
    expect(summary.compliance).toBeUndefined();
    expect(summary.database?.parentVersion).toBe(2);
    expect(summary.database?.rewrapped).toBeGreaterThan(0);
    expect(summary.database?.skipped).toBe(0);
    expect(first.stderr).toContain('data keys: ');
    const old = summary.purposeKeys.find((key) => key.purpose === 'database' && key.version === 1);
    expect(old).toEqual(expect.objectContaining({ state: 'decrypt_only', dataKeys: 0 }));

    const second = await cli('keys', 'rewrap', '--purpose', 'database', '--json');
    expect((JSON.parse(second.stdout) as Summary).database?.examined).toBe(0);
  });

  it('re-wraps subject keys and reports versions that can go', async () => {
    expect((await cli('keys', 'rotate', '--purpose', 'compliance')).code).toBe(0);
    const result = await cli('keys', 'rewrap');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('re-wrapped 0 data keys under database key version 2');
    expect(result.stdout).toMatch(
      /re-wrapped [1-9]\d* subject keys under compliance key version 2/,
    );
    expect(result.stdout).toMatch(
      /compliance key \S+ version 1 \(decrypt_only\) wraps no key and can be deleted/,
    );
    expect(result.stdout).toMatch(
      /database key \S+ version 1 \(decrypt_only\) wraps no key and can be deleted/,
    );

    const verified = await cli('audit', 'verify', '--json');
    expect(verified.code).toBe(0);
    expect((JSON.parse(verified.stdout) as { ok: boolean }).ok).toBe(true);
  });
});
