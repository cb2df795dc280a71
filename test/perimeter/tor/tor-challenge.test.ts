/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { api } from '../../admin/admin-api.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { from } from '../challenge/challenge-client.js';

const TOR_EXIT = '185.220.101.7';
const TOR_EXIT_V6 = '2a0b:f4c2::7';
const LATER_EXIT = '185.220.101.99';
const ORDINARY = '198.51.100.20';

const exitAddresses = (addresses: string[]) =>
  addresses
    .map(
      (address, index) =>
        `ExitNode ${String(index).padStart(40, 'A')}\nPublished 2026-12-03 19:42:21\n` +
        `LastStatus 2026-12-04 08:00:00\nExitAddress ${address} 2026-12-04 08:04:56\n`,
    )
    .join('');

/** Replaces the list file the way a refresh script does: write aside, then rename. */
async function refreshList(path: string, text: string): Promise<void> {
  await writeFile(`${path}.new`, text);
  await rename(`${path}.new`, path);
}

/** Sends an anonymous admin request as `ip` until its status is `status`, for up to 10 s. */
async function waitForStatus(t: TestServer, ip: string, status: number): Promise<number> {
  let last = 0;
  for (let attempt = 0; attempt < 100; attempt += 1) {
    last = (await api(t, 'GET', '/api/v1/auth/me', { headers: from(ip) })).status;
    if (last === status) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return last;
}

let folder: string;
let listPath: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mindweave-tor-'));
  listPath = join(folder, 'exit-addresses');
  await writeFile(listPath, exitAddresses([TOR_EXIT, TOR_EXIT_V6]));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('Tor exits with TOR_ACTION=challenge', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({
      env: {
        TRUSTED_PROXIES: '127.0.0.1',
        TOR_EXIT_LIST_FILE: listPath,
        CHALLENGE_DIFFICULTY: '8',
        PERIMETER_FILE_CHECK_MS: '100',
      },
    });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('anonymous request from an exit is challenged', async () => {
    const response = await api(t, 'POST', '/api/v1/auth/login', {
      headers: from(TOR_EXIT),
      body: { email: 'owner@example.com', password: 'Wrong-Passw0rd!' },
    });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe('challenge_required');
    expect(response.body.challenge).toEqual({
      url: '/challenge',
      verifyUrl: '/challenge/verify',
      passHeader: 'x-mindweave-challenge',
    });
  });

  it('IPv6 exit is challenged', async () => {
    const response = await api(t, 'GET', '/api/v1/auth/me', { headers: from(TOR_EXIT_V6) });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe('challenge_required');
  });

  it('other addresses are not challenged', async () => {
    const response = await api(t, 'GET', '/api/v1/auth/me', { headers: from(ORDINARY) });
    expect(response.status).toBe(401);
  });

  it('challenge routes and probes stay open', async () => {
    expect((await api(t, 'POST', '/challenge', { headers: from(TOR_EXIT) })).status).toBe(200);
    expect((await api(t, 'GET', '/healthz', { headers: from(TOR_EXIT) })).status).toBe(200);
  });

  it('API-key traffic from an exit is not challenged', async () => {
    const response = await fetch(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: from(TOR_EXIT, {
        'content-type': 'application/json',
        'x-api-key': t.boot.apiKey,
        'anthropic-version': '2023-06-01',
      }),
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'Hello' }],
      }),
    });
    expect(response.status).toBe(200);
  });

  it('gateway call without a key gets the provider error shape', async () => {
    const response = await fetch(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: from(TOR_EXIT, {
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
      }),
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [] }),
    });
    expect(response.status).toBe(403);
    const body = (await response.json()) as { type: string; error: { message: string } };
    expect(body.type).toBe('error');
    expect(body.error.message).toContain('POST /challenge');
  });

  it('refreshed list takes effect without restart', async () => {
    expect(await waitForStatus(t, LATER_EXIT, 401)).toBe(401);
    await refreshList(listPath, exitAddresses([TOR_EXIT, LATER_EXIT]));
    expect(await waitForStatus(t, LATER_EXIT, 403)).toBe(403);
    expect(await waitForStatus(t, TOR_EXIT_V6, 401)).toBe(401);
  });

  it('invalid refresh keeps the previous list', async () => {
    await refreshList(listPath, `${exitAddresses([ORDINARY])}ExitAddress not-an-ip 2026-12-04\n`);
    for (let attempt = 0; attempt < 100; attempt += 1) {
      if (t.logLines.some((line) => line.includes('Tor exit list not reloaded'))) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const failure = t.logLines.find((line) => line.includes('Tor exit list not reloaded'));
    expect(failure).toContain('line 5');
    expect((await api(t, 'GET', '/api/v1/auth/me', { headers: from(LATER_EXIT) })).status).toBe(
      403,
    );
    expect((await api(t, 'GET', '/api/v1/auth/me', { headers: from(ORDINARY) })).status).toBe(401);
  });
});

describe('Tor exits with TOR_ACTION=block', () => {
  let t: TestServer;

  beforeAll(async () => {
    const blockList = join(folder, 'bulk-list');
    await writeFile(blockList, `${TOR_EXIT}\n`);
    t = await startTestServer({
      env: {
        TRUSTED_PROXIES: '127.0.0.1',
        TOR_EXIT_LIST_FILE: blockList,
        TOR_ACTION: 'block',
      },
    });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('exit gets 403 tor_blocked', async () => {
    const response = await api(t, 'POST', '/challenge', { headers: from(TOR_EXIT) });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe('tor_blocked');
    expect(response.body.requestId).toBe(response.headers.get('x-request-id'));
  });

  it('other addresses pass', async () => {
    expect((await api(t, 'GET', '/healthz', { headers: from(ORDINARY) })).status).toBe(200);
  });
});
