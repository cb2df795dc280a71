import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  openDataProtection,
  type DataProtection,
} from '../../src/data/key-store/data-protection.js';
import { ownerSession } from '../support/admin-session.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

// While an organization's data key waits for destruction, nothing new may be encrypted under it.
// Storing a provider key in that period answered 500 with the key error in the server log.

let t: TestServer;
let keys: DataProtection;

beforeAll(async () => {
  t = await startTestServer();
  keys = await openDataProtection(t.config, t.owner, pino({ level: 'silent' }), 'test');
}, 120_000);

afterAll(async () => {
  await keys?.close();
  await t?.stop();
});

describe('provider key write during erasure', () => {
  it('answers 409 instead of 500', async () => {
    const token = await ownerSession(t);
    const keyId = await keys.hierarchy.dataKeyId({ kind: 'tenant', tenant: t.boot.orgId }, 'test');
    await keys.hierarchy.scheduleDeletion(keyId, { actor: 'test', waitingDays: 30 });

    const response = await fetch(
      `${t.url}/api/v1/organizations/${t.boot.orgId}/provider-keys/anthropic`,
      {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey: 'sk-ant-during-erasure-0000abcd' }),
      },
    );
    const body = (await response.json()) as { code?: string };

    expect(response.status).toBe(409);
    expect(body.code).toBe('conflict');
  }, 60_000);
});
