import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli, type CliResult } from '../support/cli-process.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

// Audit entries and per-user data keys name a user as `user:<lower-case uuid>`. An erasure
// requested with the same UUID in upper case, or with a user id that is no UUID, matched no key:
// the command reported the erasure as scheduled while the person's data stayed readable.

let t: TestServer;

/** Runs the CLI against this file's test server. */
function cli(...args: string[]): Promise<CliResult> {
  return runCli(t, ...args);
}

async function personalDataKeySubjects(): Promise<string[]> {
  const { rows } = await t.owner.query<{ subject_id: string }>(
    'SELECT subject_id FROM personal_data_keys ORDER BY subject_id',
  );
  return rows.map((row) => row.subject_id);
}

async function scheduledUserKeyVersions(userId: string): Promise<number> {
  const { rows } = await t.owner.query<{ count: string }>(
    `SELECT count(*) AS count FROM encryption_key_versions v JOIN encryption_keys k USING (key_id)
      WHERE k.owner_kind = 'subject' AND k.owner_subject = $1
        AND v.state = 'scheduled_for_deletion'`,
    [`user:${userId}`],
  );
  return Number(rows[0]!.count);
}

beforeAll(async () => {
  t = await startTestServer();
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

describe('subjects erase subject id', () => {
  it('rejects a user id that is no UUID', async () => {
    const before = await personalDataKeySubjects();
    const result = await cli('subjects', 'erase', '--subject', 'user:not-a-uuid', '--yes');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('user:not-a-uuid');
    expect(await personalDataKeySubjects()).toEqual(before);
  }, 60_000);

  it('erases an upper-case user id', async () => {
    const userId = t.boot.adminUserId;
    const result = await cli(
      'subjects',
      'erase',
      '--subject',
      `user:${userId.toUpperCase()}`,
      '--yes',
      '--json',
    );
    expect(result.code).toBe(0);
    const change = JSON.parse(result.stdout) as { subjectId: string; dataKeys: unknown[] };
    expect(change.subjectId).toBe(`user:${userId}`);
    expect(change.dataKeys.length).toBeGreaterThan(0);
    expect(await scheduledUserKeyVersions(userId)).toBeGreaterThan(0);
    expect(await personalDataKeySubjects()).not.toContain(`user:${userId.toUpperCase()}`);
  }, 60_000);
});
