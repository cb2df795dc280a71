import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  openDataProtection,
  type DataProtection,
} from '../../src/data/key-store/data-protection.js';
import { ownerSession } from '../support/admin-session.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

// While an organization's data key waits for destruction, nothing new may be encrypted under it.
// Storing a provider key or an SSO client secret, or inviting someone, in that period returned
// 500 with the key error in the server log.

let t: TestServer;
let keys: DataProtection;
let token: string;

async function send(method: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${t.url}/api/v1/organizations/${t.boot.orgId}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  t = await startTestServer();
  keys = await openDataProtection(t.config, t.owner, pino({ level: 'silent' }), 'test');
  token = await ownerSession(t);
  const keyId = await keys.hierarchy.dataKeyId({ kind: 'tenant', tenant: t.boot.orgId }, 'test');
  await keys.hierarchy.scheduleDeletion(keyId, { actor: 'test', waitingDays: 30 });
}, 120_000);

afterAll(async () => {
  await keys?.close();
  await t?.stop();
});

describe('writes during organization erasure', () => {
  it('provider key returns 409', async () => {
    const response = await send('PUT', '/provider-keys/anthropic', {
      apiKey: 'sk-ant-during-erasure-0000abcd',
    });
    const body = (await response.json()) as { code?: string };

    expect(response.status).toBe(409);
    expect(body.code).toBe('conflict');
  }, 60_000);

  it('invitation returns 409', async () => {
    const response = await send('POST', '/invitations', {
      email: 'during.erasure@example.org',
      role: 'member',
    });
    const body = (await response.json()) as { code?: string };

    expect(response.status).toBe(409);
    expect(body.code).toBe('conflict');
  }, 60_000);

  it('SSO client secret returns 409', async () => {
    const response = await send('PUT', '/sso', {
      slug: 'erasure-sso',
      issuer: 'https://idp.example.com',
      clientId: 'client-id',
      clientSecret: 'client-secret-during-erasure',
      allowedEmailDomains: ['example.com'],
    });
    const body = (await response.json()) as { code?: string };

    expect(response.status).toBe(409);
    expect(body.code).toBe('conflict');
  }, 60_000);
});
