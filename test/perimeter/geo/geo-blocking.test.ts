/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { api } from '../../admin/admin-api.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { from } from '../challenge/challenge-client.js';

const RUSSIA_V4 = '5.45.192.0,5.45.255.255,RU';
const GEO_V4 = ['1.0.0.0,1.0.0.255,AU', RUSSIA_V4, '175.45.176.0,175.45.179.255,KP'];
const GEO_V6 = [
  '2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,JP',
  '2a02:6b8::,2a02:6bf:ffff:ffff:ffff:ffff:ffff:ffff,RU',
];

let folder: string;
let ipv4File: string;
let t: TestServer;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mindweave-geo-'));
  ipv4File = join(folder, 'geo-ipv4.csv');
  const ipv6File = join(folder, 'geo-ipv6.csv');
  await writeFile(ipv4File, `${GEO_V4.join('\n')}\n`);
  await writeFile(ipv6File, `${GEO_V6.join('\n')}\n`);
  t = await startTestServer({
    env: {
      TRUSTED_PROXIES: '127.0.0.1',
      GEO_BLOCK_COUNTRIES: 'ru,KP',
      GEOIP_DB_FILE: `${ipv4File},${ipv6File}`,
      PERIMETER_FILE_CHECK_MS: '100',
    },
  });
});

afterAll(async () => {
  await t?.stop();
  await rm(folder, { recursive: true, force: true });
});

describe('geo blocking', () => {
  it.each([
    ['IPv4 in RU', '5.45.200.1'],
    ['IPv4 in KP', '175.45.176.9'],
    ['IPv6 in RU', '2a02:6b8:c00::1'],
    ['IPv4-mapped IPv6 in RU', '::ffff:5.45.200.1'],
  ])('%s gets 403 geo_blocked', async (_name, ip) => {
    const response = await api(t, 'GET', '/healthz', { headers: from(ip) });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe('geo_blocked');
    expect(response.body.requestId).toBe(response.headers.get('x-request-id'));
  });

  it.each([
    ['IPv4 in AU', '1.0.0.1'],
    ['IPv6 in JP', '2001:200::1'],
    ['an unlisted address', '198.51.100.20'],
  ])('%s passes', async (_name, ip) => {
    expect((await api(t, 'GET', '/healthz', { headers: from(ip) })).status).toBe(200);
  });

  it('admin routes are blocked too', async () => {
    const response = await api(t, 'POST', '/api/v1/auth/login', {
      headers: from('5.45.200.1'),
      body: { email: 'owner@example.com', password: 'Wrong-Passw0rd!' },
    });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe('geo_blocked');
  });

  it('gateway calls get the provider error shape', async () => {
    const response = await fetch(`${t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: from('5.45.200.1', {
        'content-type': 'application/json',
        authorization: `Bearer ${t.boot.apiKey}`,
      }),
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(response.status).toBe(403);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toBe('Requests from your country are not accepted');
  });

  it('only the address the trusted proxy saw counts', async () => {
    // The trusted proxy forwards a chain in which the RU address is only a client claim.
    const response = await api(t, 'GET', '/healthz', {
      headers: from('5.45.200.1, 1.0.0.1'),
    });
    expect(response.status).toBe(200);
  });

  it('a refreshed database applies without restart', async () => {
    const refreshed = GEO_V4.filter((line) => line !== RUSSIA_V4).join('\n');
    await writeFile(`${ipv4File}.new`, `${refreshed}\n`);
    await rename(`${ipv4File}.new`, ipv4File);
    let status = 0;
    for (let attempt = 0; attempt < 100 && status !== 200; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = (await api(t, 'GET', '/healthz', { headers: from('5.45.200.1') })).status;
    }
    expect(status).toBe(200);
    const blocked = await api(t, 'GET', '/healthz', { headers: from('2a02:6b8::1') });
    expect(blocked.status).toBe(403);
  });
});
