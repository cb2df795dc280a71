import { createServer } from 'node:net';

import { expect } from 'vitest';

import { call, type SecretRecorder } from '../application/identity-api.js';
import { ownerSession } from './admin-session.js';
import { browse, CookieJar, signInAtProvider } from './oidc-browser.js';
import {
  startOidcProvider,
  type TestAccount,
  type TestOidcProvider,
} from './oidc-test-provider.js';
import { startTestServer, type TestServer } from './test-server.js';

/** A test server and an OpenID provider that registers it as the client `mindweave`. */
export interface SsoFixture {
  t: TestServer;
  idp: TestOidcProvider;
  /** The public base URL of the server, which the provider redirects back to. */
  baseUrl: string;
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts an OpenID provider with `accounts` and a test server whose SSO callbacks go to a fixed
 * port, so that the provider can list the callback URL of the organization slug `acme`.
 */
export async function startSsoFixture(options: {
  clientSecret: string;
  accounts: TestAccount[];
  recorder: SecretRecorder;
  embedded?: boolean;
}): Promise<SsoFixture> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const idp = await startOidcProvider({
    clients: [
      {
        clientId: 'mindweave',
        clientSecret: options.clientSecret,
        redirectUris: [`${baseUrl}/api/v1/auth/sso/acme/callback`],
      },
    ],
    accounts: options.accounts,
  });
  options.recorder.add(options.clientSecret);
  const t = await startTestServer({
    embedded: options.embedded,
    env: {
      PORT: String(port),
      SSO_CALLBACK_BASE_URL: baseUrl,
      // The WAF blocks loopback URLs in bodies and queries (the issuer and the callback's `iss`),
      // as it should in production. Only the test provider runs on 127.0.0.1.
      WAF_MODE: 'monitor',
    },
  });
  return { t, idp, baseUrl };
}

/**
 * Configures SSO for the test organization as its owner and checks that the server accepted it.
 * `overrides` replaces fields of a configuration for slug `acme` with just-in-time provisioning.
 */
export async function configureSso(
  fixture: SsoFixture,
  recorder: SecretRecorder,
  clientSecret: string,
  overrides: Record<string, unknown> = {},
): Promise<void> {
  const { t, idp } = fixture;
  const ownerToken = await ownerSession(t);
  const put = await call(t, recorder, 'PUT', `/api/v1/organizations/${t.boot.orgId}/sso`, {
    token: ownerToken,
    body: {
      slug: 'acme',
      issuer: idp.issuer,
      clientId: 'mindweave',
      clientSecret,
      scopes: ['openid', 'email', 'profile'],
      allowedEmailDomains: ['example.org'],
      roleMappings: [],
      defaultRole: 'viewer',
      jitProvisioning: true,
      ...overrides,
    },
  });
  expect(put.status).toBe(201);
}

/**
 * Signs `accountId` in at the provider through the `acme` sign-in and returns the status and body
 * of the callback. The recorder learns the session token and any error body.
 */
export async function runSsoSignIn(
  fixture: SsoFixture,
  recorder: SecretRecorder,
  accountId: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { t, baseUrl } = fixture;
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
