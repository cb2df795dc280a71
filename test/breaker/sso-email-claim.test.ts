import { createServer } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ownerSession } from '../support/admin-session.js';
import { browse, CookieJar, signInAtProvider } from '../support/oidc-browser.js';
import { startOidcProvider, type TestOidcProvider } from '../support/oidc-test-provider.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { call, createUser, SecretRecorder } from '../application/identity-api.js';

const CLIENT_SECRET = 'sso-breaker-client-secret-0123456789';

/** U+212A KELVIN SIGN, which String.prototype.toLowerCase maps to the ASCII letter k. */
const KELVIN = '\u212a';

/** 243 three-byte characters: 255 UTF-16 units with the domain, but 741 bytes of UTF-8. */
const LONG_LOCAL_PART = '\u6f22'.repeat(243);

let t: TestServer;
let idp: TestOidcProvider;
let baseUrl: string;
const recorder = new SecretRecorder();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Signs `accountId` in at the provider and returns the status and body of the callback. */
async function ssoSignIn(
  accountId: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
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
      // A provider account whose verified address differs from karl@example.org in one letter.
      {
        id: 'mallory',
        email: `${KELVIN}arl@example.org`,
        emailVerified: true,
        name: 'M',
        groups: [],
      },
      {
        id: 'long',
        email: `${LONG_LOCAL_PART}@example.org`,
        emailVerified: true,
        name: 'L',
        groups: [],
      },
    ],
  });
  recorder.add(CLIENT_SECRET);
  t = await startTestServer({
    env: { PORT: String(port), SSO_CALLBACK_BASE_URL: baseUrl, WAF_MODE: 'monitor' },
  });
  const ownerToken = await ownerSession(t);
  const put = await call(t, recorder, 'PUT', `/api/v1/organizations/${t.boot.orgId}/sso`, {
    token: ownerToken,
    body: {
      slug: 'acme',
      issuer: idp.issuer,
      clientId: 'mindweave',
      clientSecret: CLIENT_SECRET,
      scopes: ['openid', 'email', 'profile', 'groups'],
      allowedEmailDomains: ['example.org'],
      groupsClaim: 'groups',
      roleMappings: [],
      defaultRole: 'viewer',
      jitProvisioning: true,
    },
  });
  expect(put.status).toBe(201);
}, 120_000);

afterAll(async () => {
  await t?.stop();
  await idp?.stop();
});

describe('SSO email claims outside ASCII', () => {
  it('never reach an account by case folding', async () => {
    const karl = await createUser(t, recorder, {
      role: 'member',
      orgId: t.boot.orgId,
      email: 'karl@example.org',
    });
    const result = await ssoSignIn('mallory');
    expect(result.status).toBe(401);
    expect(result.body.token).toBeUndefined();
    const sessions = await t.owner.query('SELECT id FROM admin_sessions WHERE user_id = $1', [
      karl.id,
    ]);
    expect(sessions.rows).toHaveLength(0);
  });

  it('reject an address too long to store', async () => {
    const result = await ssoSignIn('long');
    expect(result.status).toBe(401);
  });
});
