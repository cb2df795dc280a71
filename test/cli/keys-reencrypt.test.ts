import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { api } from '../admin/admin-api.js';
import { ownerSession } from '../support/admin-session.js';
import { registerSecrets } from '../support/secret-scan.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const run = promisify(execFile);
const ORG_PROVIDER_KEY = 'sk-ant-reencrypt-test-DDDD4444wwww';

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
  providerKeys: { orgId: string; examined: number; reencrypted: number; current: number }[];
  userFields?: { examined: number; reencrypted: number; current: number };
}

beforeAll(async () => {
  registerSecrets(ORG_PROVIDER_KEY);
  t = await startTestServer();
  const token = await ownerSession(t);
  const stored = await api(
    t,
    'PUT',
    `/api/v1/organizations/${t.boot.orgId}/provider-keys/anthropic`,
    {
      token,
      body: { apiKey: ORG_PROVIDER_KEY },
    },
  );
  expect(stored.status).toBeLessThan(300);
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

describe('mindweave keys reencrypt', () => {
  it('rejects a purpose key and a malformed organization id', async () => {
    const purpose = await cli('keys', 'reencrypt', '--purpose', 'compliance');
    expect(purpose.code).toBe(2);
    expect(purpose.stderr).toContain('--purpose must be data');
    const org = await cli('keys', 'reencrypt', '--org', 'acme');
    expect(org.code).toBe(2);
    expect(org.stderr).toContain('--org must be an organization id');
  });

  it('re-encrypts once after a rotation', async () => {
    const rotated = await cli('keys', 'rotate', '--purpose', 'data');
    expect(rotated.stderr).not.toContain('unexpected failure');
    expect(rotated.code).toBe(0);

    const first = await cli('keys', 'reencrypt', '--json');
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout) as Summary;
    expect(summary.providerKeys).toHaveLength(1);
    expect(summary.providerKeys[0]?.orgId).toBe(t.boot.orgId);
    expect(summary.providerKeys[0]?.reencrypted).toBe(1);
    expect(summary.userFields?.reencrypted).toBeGreaterThan(0);
    expect(first.stderr).toContain(`provider keys of org ${t.boot.orgId}: 1 re-encrypted`);
    expect(first.stderr).toContain('user fields: ');

    const second = await cli('keys', 'reencrypt', '--json');
    const again = JSON.parse(second.stdout) as Summary;
    expect(again.providerKeys[0]?.reencrypted).toBe(0);
    expect(again.providerKeys[0]?.current).toBe(1);
    expect(again.userFields?.reencrypted).toBe(0);
    expect(again.userFields?.current).toBe(summary.userFields?.examined);
  });

  it('limits the run to one organization with --org', async () => {
    const result = await cli('keys', 'reencrypt', '--org', t.boot.orgId, '--json');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as Summary;
    expect(summary.providerKeys.map((org) => org.orgId)).toEqual([t.boot.orgId]);
    expect(summary.userFields).toBeUndefined();
  });

  it('keeps the provider key usable by the gateway', async () => {
    const response = await fetch(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': t.boot.apiKey },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(response.status).toBe(200);
    expect(t.fake.received.at(-1)?.headers['x-api-key']).toBe(ORG_PROVIDER_KEY);
  });
});
