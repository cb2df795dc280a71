import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PROVIDER_KEYS, startTestServer, type TestServer } from '../support/test-server.js';
import { api, ownerSession } from './admin-api.js';

const SERVER = fileURLToPath(new URL('./api-keys-server.process.ts', import.meta.url));

let t: TestServer;
let token: string;
let second: ChildProcess;
let secondUrl: string;

/** Starts another server process on the same database and data folder. */
async function startSecondServer(): Promise<void> {
  second = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      MINDWEAVE_DATA_DIR: t.config.MINDWEAVE_DATA_DIR,
      DATABASE_URL: t.config.DATABASE_URL,
      ANTHROPIC_BASE_URL: t.config.ANTHROPIC_BASE_URL,
      ANTHROPIC_API_KEY: PROVIDER_KEYS.anthropic,
      OPENAI_BASE_URL: t.config.OPENAI_BASE_URL,
      OPENAI_API_KEY: PROVIDER_KEYS.openai,
      RATE_LIMIT_IP_MAX: '0',
      RATE_LIMIT_AUTH_MAX: '0',
      LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(second.stdout!, 'data')) as [Buffer];
  secondUrl = line.toString('utf8').trim();
}

beforeAll(async () => {
  t = await startTestServer();
  token = await ownerSession(t);
  await startSecondServer();
}, 60_000);

afterAll(async () => {
  if (second && second.exitCode === null) {
    second.kill('SIGTERM');
    await once(second, 'exit');
  }
  await t.stop();
});

/** Sends `GET /v1/models` with `key` to the server at `url` and returns the status. */
async function modelsStatus(url: string, key: string): Promise<number> {
  const response = await fetch(`${url}/v1/models`, { headers: { 'x-api-key': key } });
  await response.arrayBuffer();
  return response.status;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('revocation across processes', () => {
  it('second process serves the same keys', async () => {
    expect(secondUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await modelsStatus(secondUrl, t.boot.apiKey)).toBe(200);
  });

  it('revoked key rejected by another process within one second', async () => {
    const keys = `/api/v1/organizations/${t.boot.orgId}/projects/${t.boot.projectId}/api-keys`;
    const created = await api(t, 'POST', keys, { token, body: { name: 'cross-process' } });
    expect(created.status).toBe(201);
    const secret = created.body.key as string;

    // The second process caches the key's grant while it keeps accepting it.
    for (let i = 0; i < 5; i++) expect(await modelsStatus(secondUrl, secret)).toBe(200);
    const revoked = await api(t, 'DELETE', `${keys}/${created.body.id as string}`, { token });
    expect(revoked.status).toBe(200);

    await sleep(1000);
    expect(await modelsStatus(secondUrl, secret)).toBe(401);
    expect(await modelsStatus(t.url, secret)).toBe(401);
  });

  it('revoked admin key stops at once', async () => {
    const keys = `/api/v1/organizations/${t.boot.orgId}/projects/${t.boot.projectId}/api-keys`;
    const created = await api(t, 'POST', keys, {
      token,
      body: { name: 'cross-process-admin', scopes: ['admin_read'] },
    });
    expect(created.status).toBe(201);
    const secret = created.body.key as string;
    const read = () => api(t, 'GET', keys, { headers: { 'x-api-key': secret } });
    expect((await read()).status).toBe(200);
    await api(t, 'DELETE', `${keys}/${created.body.id as string}`, { token });
    const afterRevoke = await fetch(`${secondUrl}${keys}`, { headers: { 'x-api-key': secret } });
    expect(afterRevoke.status).toBe(401);
  });
});
