import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  openDataProtection,
  type DataProtection,
} from '../../src/data/key-store/data-protection.js';
import {
  complianceKeyWrapping,
  PersonalDataSealer,
} from '../../src/data/personal-data/personal-data-sealer.js';
import { ownerSession } from '../support/admin-session.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const run = promisify(execFile);

let t: TestServer;
let keys: DataProtection;
let subject: string;

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

/** Opens the subject's sealed actor emails with a sealer of its own, so no server cache is involved. */
async function openedEmails(): Promise<(string | null)[]> {
  const sealer = new PersonalDataSealer();
  sealer.useWrapping(complianceKeyWrapping(keys.hierarchy));
  const { rows } = await t.owner.query<{ email: string }>(
    `SELECT actor_email AS email FROM audit_logs
      WHERE actor_type = 'user' AND actor_id = $1 AND actor_email IS NOT NULL`,
    [t.boot.adminUserId],
  );
  expect(rows.length).toBeGreaterThan(0);
  return Promise.all(rows.map((row) => sealer.unseal(t.owner, row.email, 'actor_email')));
}

beforeAll(async () => {
  t = await startTestServer();
  // The sign-in writes audit entries with the owner's email sealed under the owner's key.
  await ownerSession(t);
  keys = await openDataProtection(t.config, t.owner, pino({ level: 'silent' }), 'test');
  subject = `user:${t.boot.adminUserId}`;
}, 120_000);

afterAll(async () => {
  await keys?.close();
  await t?.stop();
});

describe('mindweave subjects erase', () => {
  it('rejects a malformed subject id', async () => {
    const result = await cli(
      'subjects',
      'erase',
      '--subject',
      "user:x'; DROP TABLE users",
      '--yes',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is not a subject id');
  });

  it('only shows the key state without --yes', async () => {
    const result = await cli('subjects', 'erase', '--subject', subject, '--json');
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({ subjectId: subject, state: 'live', erased: false });
    expect(await openedEmails()).toContain(t.boot.adminEmail);
  });

  it('destroys the key, leaves the fields unreadable and the log verifiable', async () => {
    const before = await cli('audit', 'verify', '--json');
    expect(before.code).toBe(0);

    const erased = await cli('subjects', 'erase', '--subject', subject, '--yes', '--json');
    expect(erased.code).toBe(0);
    expect(JSON.parse(erased.stdout)).toEqual({
      subjectId: subject,
      previousState: 'live',
      state: 'erased',
      erased: true,
    });

    const { rows } = await t.owner.query<{
      keyMaterial: Buffer | null;
      wrappedKey: Buffer | null;
      destroyed: boolean;
    }>(
      `SELECT key_material AS "keyMaterial", wrapped_key AS "wrappedKey",
              destroyed_at IS NOT NULL AS destroyed
         FROM personal_data_keys WHERE subject_id = $1`,
      [subject],
    );
    expect(rows).toEqual([{ keyMaterial: null, wrappedKey: null, destroyed: true }]);

    const opened = await openedEmails();
    expect(opened.every((email) => email === null)).toBe(true);

    const after = await cli('audit', 'verify', '--json');
    expect(after.code).toBe(0);
    expect((JSON.parse(after.stdout) as { ok: boolean }).ok).toBe(true);
  });

  it('records the erasure in the key usage log and the audit log', async () => {
    const usage = await t.owner.query<{ actor: string; purpose: string }>(
      `SELECT actor, purpose FROM key_usage_log
        WHERE operation = 'destroy' AND encryption_context->>'subject' = $1`,
      [subject],
    );
    expect(usage.rows).toEqual([{ actor: 'cli', purpose: 'compliance' }]);
    const audit = await t.owner.query<{ subject: string }>(
      `SELECT metadata->>'subject' AS subject FROM audit_logs WHERE action = 'personal_data.erased'`,
    );
    expect(audit.rows).toEqual([{ subject }]);
  });

  it('reports a second erasure as already done', async () => {
    const again = await cli('subjects', 'erase', '--subject', subject, '--yes', '--json');
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as { previousState: string }).previousState).toBe('erased');
  });
});
