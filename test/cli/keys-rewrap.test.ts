import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadLoginThrottleKey } from '../../src/application/auth/login-throttle-key.js';
import { FieldCipher } from '../../src/data/crypto/field-cipher.js';
import { KeyHierarchy } from '../../src/data/crypto/key-hierarchy.js';
import { DatabaseKeyStore } from '../../src/data/key-store/database-key-store.js';
import { DatabaseKeyUsageSink } from '../../src/data/key-store/database-key-usage-sink.js';
import { openDataProtection } from '../../src/data/key-store/data-protection.js';

import { ownerSession } from '../support/admin-session.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const run = promisify(execFile);

let t: TestServer;

function cliEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: t.config.DATABASE_URL,
    MINDWEAVE_DATA_DIR: t.config.MINDWEAVE_DATA_DIR,
    LOG_LEVEL: 'warn',
  };
}

/** Runs the CLI as its own process against the test server's database and data folder. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { env: cliEnv() },
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
  application?: { applicationVersion: number; examined: number; rewrapped: number };
  purposeKeys: {
    purpose: string;
    keyId: string;
    version: number;
    state: string;
    dataKeys: number;
    subjectKeys: number;
    loginThrottleKeys: number;
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
    const result = await cli('keys', 'rewrap', '--purpose', 'data');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--purpose must be one of database, compliance, application');
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

  it('re-wraps the sign-in throttle key', async () => {
    const keys = await openDataProtection(t.config, t.owner, pino({ level: 'silent' }), 'test');
    try {
      // Created as a server with Redis creates it at start.
      await loadLoginThrottleKey(t.owner, keys.hierarchy);
    } finally {
      await keys.close();
    }
    const throttleVersion = async () =>
      (
        await t.owner.query<{ version: number }>(
          'SELECT application_key_version AS version FROM login_throttle_keys WHERE id = 1',
        )
      ).rows[0]?.version;
    expect(await throttleVersion()).toBe(1);
    expect((await cli('keys', 'rotate', '--purpose', 'application')).code).toBe(0);

    const before = await cli('keys', 'rewrap', '--purpose', 'compliance', '--json');
    const blocked = (JSON.parse(before.stdout) as Summary).purposeKeys.find(
      (key) => key.purpose === 'application' && key.version === 1,
    );
    expect(blocked).toEqual(
      expect.objectContaining({ state: 'decrypt_only', dataKeys: 0, loginThrottleKeys: 1 }),
    );
    const rejected = await cli(
      'keys',
      'schedule-deletion',
      '--key',
      blocked?.keyId ?? '',
      '--version',
      '1',
      '--yes',
    );
    expect(rejected.code).toBe(2);
    expect(rejected.stderr).toContain('1 keys are still wrapped under it');

    const result = await cli('keys', 'rewrap', '--purpose', 'application', '--json');
    expect(result.stderr).not.toContain('unexpected failure');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as Summary;
    expect(summary.application).toEqual({ applicationVersion: 2, examined: 1, rewrapped: 1 });
    expect(summary.database).toBeUndefined();
    const old = summary.purposeKeys.find(
      (key) => key.purpose === 'application' && key.version === 1,
    );
    expect(old?.loginThrottleKeys).toBe(0);
    expect(await throttleVersion()).toBe(2);

    const again = await cli('keys', 'rewrap', '--purpose', 'application', '--json');
    expect((JSON.parse(again.stdout) as Summary).application?.rewrapped).toBe(0);
    const text = await cli('keys', 'rewrap', '--purpose', 'application');
    expect(text.stdout).toMatch(
      /application key \S+ version 1 \(decrypt_only\) wraps no key and can be deleted/,
    );
    const accepted = await cli(
      'keys',
      'schedule-deletion',
      '--key',
      blocked?.keyId ?? '',
      '--version',
      '1',
      '--yes',
    );
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toContain('scheduled deletion of application key');
  }, 120_000);

  it('finishes after the process is killed midway', async () => {
    const keys = await openDataProtection(t.config, t.owner, pino({ level: 'silent' }), 'test');
    const values: {
      location: { tenant: string; table: string; column: string; rowId: string };
      ciphertext: string;
    }[] = [];
    try {
      for (let index = 0; index < 250; index += 1) {
        const location = {
          tenant: `kill-org-${index}`,
          table: 'notes',
          column: 'body',
          rowId: `row-${index}`,
        };
        values.push({
          location,
          ciphertext: await keys.fieldCipher.encrypt(location, `note ${index}`),
        });
      }
    } finally {
      await keys.close();
    }
    expect((await cli('keys', 'rotate', '--purpose', 'database')).code).toBe(0);

    // Killed once the first progress line shows that 100 keys are re-wrapped.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'keys', 'rewrap', '--purpose', 'database'],
      { env: cliEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (stderr.includes('data keys: 100 re-wrapped')) child.kill('SIGKILL');
    });
    expect(await exited).toBe('SIGKILL');

    const { rows } = await t.owner.query<{ parentVersion: number; count: string }>(
      `SELECT v.parent_version AS "parentVersion", count(*) FROM encryption_key_versions v
         JOIN encryption_keys k USING (key_id)
        WHERE k.purpose = 'data' AND v.state <> 'destroyed' GROUP BY v.parent_version`,
    );
    const underNew = Number(rows.find((row) => row.parentVersion === 3)?.count ?? 0);
    const underOld = Number(rows.find((row) => row.parentVersion === 2)?.count ?? 0);
    expect(underNew).toBeGreaterThanOrEqual(100);
    expect(underOld).toBeGreaterThan(0);

    const rerun = await cli('keys', 'rewrap', '--purpose', 'database', '--json');
    expect(rerun.code).toBe(0);
    const summary = JSON.parse(rerun.stdout) as Summary;
    expect(summary.database?.rewrapped).toBe(underOld);

    const keysAfter = await openDataProtection(
      t.config,
      t.owner,
      pino({ level: 'silent' }),
      'test',
    );
    try {
      const cipher = new FieldCipher(
        new KeyHierarchy({
          kms: keysAfter.kms,
          masterKeyId: keysAfter.masterKeyId,
          store: new DatabaseKeyStore(t.owner),
          usageSink: new DatabaseKeyUsageSink(t.owner),
        }),
      );
      for (const [index, value] of values.entries()) {
        expect(await cipher.decryptString(value.location, value.ciphertext)).toBe(`note ${index}`);
      }
    } finally {
      await keysAfter.close();
    }
  }, 120_000);
});
