import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseCiphertext } from '../../src/data/crypto/ciphertext-format.js';
import { call, SecretRecorder, signIn } from '../application/identity-api.js';
import { runCli, type CliResult } from '../support/cli-process.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

// Session client addresses and user agents are encrypted under the platform data key. After a
// rotation of that key, `keys reencrypt` left them under the old version, so the old version
// could not be retired without making them unreadable.

const recorder = new SecretRecorder();

let t: TestServer;

/** Runs the CLI against this file's test server. */
function cli(...args: string[]): Promise<CliResult> {
  return runCli(t, ...args);
}

/** Key id and version of every session client ciphertext. */
async function sessionClientVersions(): Promise<string[]> {
  const { rows } = await t.owner.query<{ ip: string | null; agent: string | null }>(
    'SELECT ip_encrypted AS ip, user_agent_encrypted AS agent FROM admin_sessions',
  );
  const versions: string[] = [];
  for (const row of rows) {
    for (const value of [row.ip, row.agent]) {
      if (value === null) continue;
      const parsed = parseCiphertext(value);
      versions.push(`${parsed?.keyId}.${parsed?.keyVersion}`);
    }
  }
  return versions;
}

async function activePlatformVersion(): Promise<string> {
  const { rows } = await t.owner.query<{ keyId: string; version: number }>(
    `SELECT v.key_id AS "keyId", v.version FROM encryption_key_versions v
       JOIN encryption_keys k USING (key_id)
      WHERE k.owner_kind = 'tenant' AND k.owner_tenant = 'platform' AND v.state = 'active'`,
  );
  expect(rows).toHaveLength(1);
  return `${rows[0]!.keyId}.${rows[0]!.version}`;
}

beforeAll(async () => {
  t = await startTestServer();
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

describe('keys reencrypt session clients', () => {
  it('moves them to the active platform key', async () => {
    const login = await signIn(t, recorder, t.boot.adminEmail, t.boot.adminPassword);
    expect(login.status).toBe(200);
    const token = login.body.token as string;
    expect((await sessionClientVersions()).length).toBeGreaterThan(0);

    const rotated = await cli('keys', 'rotate', '--purpose', 'data');
    expect(rotated.code).toBe(0);
    const reencrypted = await cli('keys', 'reencrypt', '--json');
    expect(reencrypted.code).toBe(0);

    const active = await activePlatformVersion();
    for (const version of await sessionClientVersions()) expect(version).toBe(active);
    const sessions = await call(t, recorder, 'GET', '/api/v1/auth/sessions', { token });
    expect(sessions.status).toBe(200);
    const listed = sessions.body.sessions as { current: boolean; userAgent: string | null }[];
    expect(listed.find((session) => session.current)?.userAgent).not.toBeNull();
  }, 120_000);
});
