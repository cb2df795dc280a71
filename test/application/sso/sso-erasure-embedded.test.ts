import { createServer } from 'node:net';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import { inTenant } from '../../../src/data/database/tenant-scope.js';
import { DatabaseKeyStore } from '../../../src/data/key-store/database-key-store.js';
import { DatabaseKeyUsageSink } from '../../../src/data/key-store/database-key-usage-sink.js';
import {
  openDataProtection,
  sweepDueDeletions,
  type DataProtection,
} from '../../../src/data/key-store/data-protection.js';
import { scheduleSubjectErasure } from '../../../src/data/personal-data/subject-erasure.js';
import { auditSubjectErased } from '../../../src/server/key-deletion-audit.js';
import { ownerSession } from '../../support/admin-session.js';
import { browse, CookieJar, signInAtProvider } from '../../support/oidc-browser.js';
import { startOidcProvider, type TestOidcProvider } from '../../support/oidc-test-provider.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { call, SecretRecorder } from '../identity-api.js';

const CLIENT_SECRET = 'sso-erasure-embedded-secret-0123456789';
const DAY_MS = 24 * 60 * 60 * 1000;
const silent = pino({ level: 'silent' });

let t: TestServer;
let idp: TestOidcProvider;
let keys: DataProtection;
let baseUrl: string;
const recorder = new SecretRecorder();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Signs in through the test provider as `accountId` and returns the signed-in user's id. */
async function ssoUserId(accountId: string): Promise<string> {
  const jar = new CookieJar();
  const start = await browse(jar, `${t.url}/api/v1/auth/sso/acme/start?sessionType=bearer`);
  expect(start.status).toBe(302);
  const callbackUrl = new URL(
    await signInAtProvider(
      jar,
      start.headers.get('location') as string,
      accountId,
      `${baseUrl}/api/v1/auth/sso/`,
    ),
  );
  const response = await browse(jar, `${t.url}${callbackUrl.pathname}${callbackUrl.search}`);
  expect(response.status).toBe(200);
  const body = (await response.json()) as { token: string };
  recorder.add(body.token);
  const me = await call(t, recorder, 'GET', '/api/v1/auth/me', { token: body.token });
  expect(me.status).toBe(200);
  return (me.body.user as { id: string }).id;
}

/** Counts the SSO identity links and memberships of `userId` in the test organization. */
async function linkCount(userId: string): Promise<number> {
  const result = await inTenant(t.server.db, t.boot.orgId, (tx) =>
    tx.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM user_sso_identities WHERE user_id = $1)::int
            + (SELECT count(*) FROM memberships WHERE user_id = $1)::int AS n`,
      [userId],
    ),
  );
  return result.rows[0]?.n ?? -1;
}

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  idp = await startOidcProvider({
    clients: [
      {
        clientId: 'mindweave',
        clientSecret: CLIENT_SECRET,
        redirectUris: [`${baseUrl}/api/v1/auth/sso/acme/callback`],
      },
    ],
    accounts: [
      { id: 'erin', email: 'erin@example.org', emailVerified: true, name: 'Erin', groups: [] },
    ],
  });
  recorder.add(CLIENT_SECRET);
  t = await startTestServer({
    embedded: true,
    env: { PORT: String(port), SSO_CALLBACK_BASE_URL: baseUrl, WAF_MODE: 'monitor' },
  });
  keys = await openDataProtection(t.config, t.server.db, silent, 'test');
  const ownerToken = await ownerSession(t);
  const put = await call(t, recorder, 'PUT', `/api/v1/organizations/${t.boot.orgId}/sso`, {
    token: ownerToken,
    body: {
      slug: 'acme',
      issuer: idp.issuer,
      clientId: 'mindweave',
      clientSecret: CLIENT_SECRET,
      scopes: ['openid', 'email', 'profile'],
      allowedEmailDomains: ['example.org'],
      roleMappings: [],
      defaultRole: 'viewer',
      jitProvisioning: true,
    },
  });
  expect(put.status).toBe(201);
}, 120_000);

afterAll(async () => {
  await keys?.close();
  await t?.stop();
  await idp?.stop();
});

describe('SSO user erasure on an embedded server', { timeout: 60_000 }, () => {
  it('unlinks the identity and provisions anew', async () => {
    const erasedId = await ssoUserId('erin');
    expect(await linkCount(erasedId)).toBe(2);

    const now = new Date();
    await scheduleSubjectErasure(t.server.db, keys.hierarchy, keys.store, `user:${erasedId}`, {
      actor: 'test',
      waitingDays: 7,
      now,
      audit: () => Promise.resolve(),
    });
    const late = new Date(now.getTime() + 8 * DAY_MS);
    const hierarchy = new KeyHierarchy({
      kms: keys.kms,
      masterKeyId: keys.masterKeyId,
      store: new DatabaseKeyStore(t.server.db),
      usageSink: new DatabaseKeyUsageSink(t.server.db),
      clock: () => late,
    });
    const swept = await sweepDueDeletions(hierarchy, silent, {
      subjectErasure: { db: t.server.db, audit: auditSubjectErased },
      clock: () => late,
    });
    expect(swept.subjects.map((subject) => subject.subjectId)).toEqual([`user:${erasedId}`]);
    expect(await linkCount(erasedId)).toBe(0);

    const newId = await ssoUserId('erin');
    expect(newId).not.toBe(erasedId);
    expect(await linkCount(newId)).toBe(2);
  });
});
