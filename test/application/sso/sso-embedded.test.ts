import { createServer } from 'node:net';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FieldCipher } from '../../../src/data/crypto/field-cipher.js';
import { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import { DatabaseKeyStore } from '../../../src/data/key-store/database-key-store.js';
import { DatabaseKeyUsageSink } from '../../../src/data/key-store/database-key-usage-sink.js';
import {
  openDataProtection,
  type DataProtection,
} from '../../../src/data/key-store/data-protection.js';
import { UserFieldProtection } from '../../../src/data/personal-data/user-field-protection.js';
import {
  installUserFieldProtection,
  uninstallUserFieldProtection,
} from '../../../src/data/personal-data/user-field-registry.js';
import { ownerSession } from '../../support/admin-session.js';
import { browse, CookieJar, signInAtProvider } from '../../support/oidc-browser.js';
import { startOidcProvider, type TestOidcProvider } from '../../support/oidc-test-provider.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { call, SecretRecorder } from '../identity-api.js';

const CLIENT_SECRET = 'sso-embedded-secret-0123456789abcdef';

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

/** Runs one SSO sign-in of `accountId` through the provider and returns the callback result. */
async function ssoSignIn(accountId: string) {
  const jar = new CookieJar();
  const start = await browse(jar, `${t.url}/api/v1/auth/sso/acme/start?sessionType=bearer`);
  expect(start.status).toBe(302);
  const callbackUrl = await signInAtProvider(
    jar,
    start.headers.get('location') as string,
    accountId,
    `${baseUrl}/api/v1/auth/sso/`,
  );
  const url = new URL(callbackUrl);
  const response = await browse(jar, `${t.url}${url.pathname}${url.search}`);
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status >= 400) recorder.errorBodies.push(JSON.stringify(body));
  if (typeof body.token === 'string') recorder.add(body.token);
  return { status: response.status, body };
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
      { id: 'frank', email: 'frank@example.org', emailVerified: true, name: 'Frank', groups: [] },
    ],
  });
  recorder.add(CLIENT_SECRET);
  t = await startTestServer({
    embedded: true,
    env: { PORT: String(port), SSO_CALLBACK_BASE_URL: baseUrl, WAF_MODE: 'monitor' },
  });
  keys = await openDataProtection(t.config, t.server.db, pino({ level: 'silent' }), 'test');
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

describe('SSO sign-in on an embedded server', { timeout: 60_000 }, () => {
  it('linked user with a cold key cache', async () => {
    const first = await ssoSignIn('frank');
    expect(first.status).toBe(200);
    const me = await call(t, recorder, 'GET', '/api/v1/auth/me', {
      token: first.body.token as string,
    });
    const userId = (me.body.user as { id: string }).id;

    // The provider now sends another email, so only the identity link finds the account, and a
    // protection with an empty key cache acts as the server after a restart.
    const frank = idp.accounts.get('frank');
    if (!frank) throw new Error('frank is missing');
    frank.email = 'frank.renamed@example.org';
    const hierarchy = new KeyHierarchy({
      kms: keys.kms,
      masterKeyId: keys.masterKeyId,
      store: new DatabaseKeyStore(t.server.db),
      usageSink: new DatabaseKeyUsageSink(t.server.db),
    });
    const fresh = new UserFieldProtection(new FieldCipher(hierarchy), hierarchy);
    installUserFieldProtection(fresh);
    try {
      const second = await ssoSignIn('frank');
      expect(second.status).toBe(200);
      const again = await call(t, recorder, 'GET', '/api/v1/auth/me', {
        token: second.body.token as string,
      });
      expect((again.body.user as { id: string }).id).toBe(userId);
    } finally {
      uninstallUserFieldProtection(fresh);
    }
  });
});
