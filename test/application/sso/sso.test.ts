import { createHash } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { inTenant } from '../../../src/data/database/tenant-scope.js';
import { findUserIdsByEmail } from '../../../src/tenancy/users/user.repository.js';
import { ownerSession } from '../../support/admin-session.js';
import { browse, CookieJar, signInAtProvider } from '../../support/oidc-browser.js';
import type { TestOidcProvider } from '../../support/oidc-test-provider.js';
import { startSsoFixture } from '../../support/sso-fixture.js';
import type { TestServer } from '../../support/test-server.js';
import {
  auditRows,
  call,
  createUser,
  enrollTotp,
  expectError,
  SecretRecorder,
  signIn,
} from '../identity-api.js';

const CLIENT_SECRET = 'sso-client-secret-0123456789abcdef';

let t: TestServer;
let idp: TestOidcProvider;
let ownerToken: string;
let baseUrl: string;
const recorder = new SecretRecorder();

function configBody(overrides: Record<string, unknown> = {}) {
  return {
    slug: 'acme',
    issuer: idp.issuer,
    clientId: 'mindweave',
    clientSecret: CLIENT_SECRET,
    scopes: ['openid', 'email', 'profile', 'groups'],
    allowedEmailDomains: ['example.org'],
    groupsClaim: 'groups',
    roleMappings: [
      { group: 'mw-admins', role: 'admin' },
      { group: 'mw-auditors', role: 'auditor' },
    ],
    defaultRole: 'viewer',
    jitProvisioning: true,
    ...overrides,
  };
}

async function putConfig(body: unknown, token = ownerToken) {
  return call(t, recorder, 'PUT', `/api/v1/organizations/${t.boot.orgId}/sso`, { token, body });
}

/** Starts a sign-in, signs in at the provider, and returns the callback URL not yet visited. */
async function startAndAuthorize(jar: CookieJar, accountId: string, slug = 'acme') {
  const start = await browse(jar, `${t.url}/api/v1/auth/sso/${slug}/start?sessionType=bearer`);
  expect(start.status).toBe(302);
  const authorizationUrl = start.headers.get('location') as string;
  const authorization = new URL(authorizationUrl);
  expect(authorization.origin).toBe(idp.issuer);
  expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
  expect(authorization.searchParams.get('state')).toBeTruthy();
  expect(authorization.searchParams.get('nonce')).toBeTruthy();
  expect(jar.get('mw_sso')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return signInAtProvider(jar, authorizationUrl, accountId, `${baseUrl}/api/v1/auth/sso/`);
}

/** Requests the callback as the browser does, at the server under test. */
async function visitCallback(jar: CookieJar, callbackUrl: string) {
  const url = new URL(callbackUrl);
  const response = await browse(jar, `${t.url}${url.pathname}${url.search}`);
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status >= 400) recorder.errorBodies.push(JSON.stringify(body));
  return { status: response.status, body };
}

async function failureReasons(): Promise<unknown[]> {
  const rows = await auditRows(t, 'user.login_failed');
  return rows.filter((row) => row.metadata.method === 'sso').map((row) => row.metadata.reason);
}

beforeAll(async () => {
  const fixture = await startSsoFixture({
    clientSecret: CLIENT_SECRET,
    accounts: [
      {
        id: 'alice',
        email: 'alice@example.org',
        emailVerified: true,
        name: 'Alice Example',
        groups: ['mw-auditors', 'staff'],
      },
      { id: 'bob', email: 'bob@elsewhere.test', emailVerified: true, name: 'Bob', groups: [] },
      { id: 'carol', email: 'carol@example.org', emailVerified: true, name: 'Carol', groups: [] },
    ],
    recorder,
  });
  ({ t, idp, baseUrl } = fixture);
  ownerToken = await ownerSession(t);
  const put = await putConfig(configBody());
  expect(put.status).toBe(201);
});

afterAll(async () => {
  await t?.stop();
  await idp?.stop();
});

describe('SSO configuration', () => {
  it('never returns the client secret', async () => {
    const read = await call(t, recorder, 'GET', `/api/v1/organizations/${t.boot.orgId}/sso`, {
      token: ownerToken,
    });
    expect(read.status).toBe(200);
    expect(read.body.clientSecretSet).toBe(true);
    expect(read.body.maxRole).toBe('owner');
    expect(read.body.redirectUri).toBe(`${baseUrl}/api/v1/auth/sso/acme/callback`);
    expect(JSON.stringify(read.body)).not.toContain(CLIENT_SECRET);

    const stored = await inTenant(t.server.db, t.boot.orgId, (tx) =>
      tx.query<{ secret: string }>(
        'SELECT client_secret_encrypted AS secret FROM organization_sso_configs WHERE org_id = $1',
        [t.boot.orgId],
      ),
    );
    expect(stored.rows[0]?.secret).toMatch(/^mw1\./);
    expect(stored.rows[0]?.secret).not.toContain(CLIENT_SECRET);
    const audit = await auditRows(t, 'sso_config.created');
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(CLIENT_SECRET);
  });

  it('rejects a plain http issuer off loopback', async () => {
    const put = await putConfig(configBody({ issuer: 'http://idp.example.com' }));
    expectError(put, 400, 'validation_failed');
    expect(put.body.details).toEqual([
      {
        field: 'issuer',
        message: 'Issuer must use https; http is accepted only for localhost and 127.0.0.1',
      },
    ]);
  });

  it('rejects unknown fields', async () => {
    const put = await putConfig({ ...configBody(), clientSecretPlain: 'x' });
    expectError(put, 400, 'validation_failed');
  });

  it('rejects a mapping above the admin role', async () => {
    const admin = await createUser(t, recorder, { role: 'admin', orgId: t.boot.orgId });
    const login = await signIn(t, recorder, admin.email, admin.password);
    const { token } = await enrollTotp(t, recorder, login.body.token as string);
    const put = await putConfig(
      configBody({ roleMappings: [{ group: 'mw-owners', role: 'owner' }] }),
      token,
    );
    expectError(put, 403, 'forbidden');
    expect(put.body.details).toEqual([
      { field: 'roleMappings.0.role', message: 'Role owner is above your role admin' },
    ]);
    const defaultRole = await putConfig(configBody({ defaultRole: 'owner' }), token);
    expectError(defaultRole, 403, 'forbidden');
    const audit = await auditRows(t, 'sso_config.updated');
    expect(audit).toHaveLength(0);
  });

  it('requires organization.update', async () => {
    const viewer = await createUser(t, recorder, { role: 'viewer', orgId: t.boot.orgId });
    const login = await signIn(t, recorder, viewer.email, viewer.password);
    const read = await call(t, recorder, 'GET', `/api/v1/organizations/${t.boot.orgId}/sso`, {
      token: login.body.token as string,
    });
    expectError(read, 403, 'forbidden');
  });
});

describe('SSO sign-in', () => {
  it('provisions the user and maps groups', async () => {
    const jar = new CookieJar();
    const callbackUrl = await startAndAuthorize(jar, 'alice');
    const callback = await visitCallback(jar, callbackUrl);
    expect(callback.status).toBe(200);
    const token = callback.body.token as string;
    expect(token).toMatch(/^mw_sess_/);
    recorder.add(token);
    expect(jar.get('mw_sso')).toBeUndefined();

    const me = await call(t, recorder, 'GET', '/api/v1/auth/me', { token });
    expect(me.status).toBe(200);
    expect((me.body.user as { email: string }).email).toBe('alice@example.org');
    expect(me.body.organizations).toEqual([{ id: t.boot.orgId, name: 'Acme', role: 'auditor' }]);
    const provisioned = await auditRows(t, 'user.provisioned');
    expect(provisioned.at(-1)?.metadata).toMatchObject({ method: 'sso', createdUser: true });
    const logins = (await auditRows(t, 'user.login')).filter(
      (row) => row.metadata.method === 'sso',
    );
    expect(logins).toHaveLength(1);
    expect(logins[0]?.metadata).toMatchObject({ sessionType: 'bearer', mfa: null });
  });

  it('syncs the role at the next sign-in', async () => {
    const alice = idp.accounts.get('alice');
    if (!alice) throw new Error('alice is missing');
    alice.groups = ['staff'];
    const jar = new CookieJar();
    const callback = await visitCallback(jar, await startAndAuthorize(jar, 'alice'));
    expect(callback.status).toBe(200);
    const me = await call(t, recorder, 'GET', '/api/v1/auth/me', {
      token: callback.body.token as string,
    });
    expect((me.body.organizations as { role: string }[])[0]?.role).toBe('viewer');
    const synced = await auditRows(t, 'membership.role_synced');
    expect(synced.at(-1)?.metadata).toMatchObject({ method: 'sso' });
    const users = await findUserIdsByEmail(t.server.db, 'alice@example.org');
    expect(users).toHaveLength(1);
  });

  it('rejects a forged state', async () => {
    const jar = new CookieJar();
    const callbackUrl = new URL(await startAndAuthorize(jar, 'carol'));
    callbackUrl.searchParams.set('state', 'forged-state-0123456789abcdefghijklmnop');
    const callback = await visitCallback(jar, callbackUrl.href);
    expect(callback.status).toBe(401);
    expect(callback.body.code).toBe('unauthorized');
    expect((await failureReasons()).at(-1)).toBe('invalid_state');
  });

  it('rejects a callback from another browser', async () => {
    const jar = new CookieJar();
    const callbackUrl = await startAndAuthorize(jar, 'carol');
    const otherBrowser = new CookieJar();
    const callback = await visitCallback(otherBrowser, callbackUrl);
    expect(callback.status).toBe(401);
    expect((await failureReasons()).at(-1)).toBe('browser_mismatch');
    // The state was used up by that attempt, so the right browser cannot use it either.
    const retry = await visitCallback(jar, callbackUrl);
    expect(retry.status).toBe(401);
    expect((await failureReasons()).at(-1)).toBe('invalid_state');
  });

  it('rejects a wrong nonce', async () => {
    const jar = new CookieJar();
    const callbackUrl = await startAndAuthorize(jar, 'carol');
    // The ID token carries the nonce sent at the start; the stored one no longer matches it.
    const state = new URL(callbackUrl).searchParams.get('state') as string;
    const stateHash = createHash('sha256').update(state).digest();
    const tampered = await inTenant(t.server.db, t.boot.orgId, (tx) =>
      tx.query(
        `UPDATE sso_login_states SET nonce = 'another-nonce-0123456789abcdef'
          WHERE org_id = $1 AND state_hash = $2`,
        [t.boot.orgId, stateHash],
      ),
    );
    expect(tampered.rowCount).toBe(1);
    const callback = await visitCallback(jar, callbackUrl);
    expect(callback.status).toBe(401);
    const failures = (await auditRows(t, 'user.login_failed')).filter(
      (row) => row.metadata.method === 'sso',
    );
    expect(failures.at(-1)?.metadata.reason).toBe('token_validation_failed');
    expect(failures.at(-1)?.metadata.errorCode).toBe('OAUTH_JWT_CLAIM_COMPARISON_FAILED');
    const carol = await findUserIdsByEmail(t.server.db, 'carol@example.org');
    expect(carol).toHaveLength(0);
  });

  it('rejects a disallowed email domain', async () => {
    const jar = new CookieJar();
    const callback = await visitCallback(jar, await startAndAuthorize(jar, 'bob'));
    expect(callback.status).toBe(401);
    expect(callback.body.error).toBe(
      'Single sign-on failed: the email domain elsewhere.test is not allowed',
    );
    expect((await failureReasons()).at(-1)).toBe('email_domain_not_allowed');
    const bob = await findUserIdsByEmail(t.server.db, 'bob@elsewhere.test');
    expect(bob).toHaveLength(0);
  });

  it('rejects a provider at another issuer', async () => {
    // The same provider reached as localhost: its metadata names 127.0.0.1 as the issuer.
    const other = configBody({ issuer: `http://localhost:${idp.port}` });
    delete (other as { clientSecret?: string }).clientSecret;
    expect((await putConfig(other)).status).toBe(200);
    try {
      const jar = new CookieJar();
      const start = await browse(jar, `${t.url}/api/v1/auth/sso/acme/start`);
      expect(start.status).toBe(502);
      expect(start.headers.get('location')).toBeNull();
      const body = (await start.json()) as { code: string };
      expect(body.code).toBe('upstream_unreachable');
    } finally {
      const restored = configBody();
      delete (restored as { clientSecret?: string }).clientSecret;
      expect((await putConfig(restored)).status).toBe(200);
    }
  });

  it('rejects an account of two organizations', async () => {
    // Dave works in another organization too: a session would reach it, so SSO is refused.
    const dave = await createUser(t, recorder, { role: 'member', email: 'dave@example.org' });
    idp.accounts.set('dave', {
      id: 'dave',
      email: 'dave@example.org',
      emailVerified: true,
      name: 'Dave',
      groups: [],
    });
    const jar = new CookieJar();
    const callback = await visitCallback(jar, await startAndAuthorize(jar, 'dave'));
    expect(callback.status).toBe(401);
    expect((await failureReasons()).at(-1)).toBe('member_of_other_organizations');
    const memberships = await call(t, recorder, 'GET', '/api/v1/auth/me', {
      token: (await signIn(t, recorder, dave.email, dave.password)).body.token as string,
    });
    expect(memberships.body.organizations).toEqual([
      expect.objectContaining({ id: dave.orgId, role: 'member' }),
    ]);
  });

  it('rejects an unverified email address', async () => {
    idp.accounts.set('erin', {
      id: 'erin',
      email: 'erin@example.org',
      emailVerified: false,
      name: 'Erin',
      groups: ['mw-auditors'],
    });
    const jar = new CookieJar();
    const callback = await visitCallback(jar, await startAndAuthorize(jar, 'erin'));
    expect(callback.status).toBe(401);
    expect((await failureReasons()).at(-1)).toBe('email_unverified');
  });

  it('answers 404 for an unknown slug', async () => {
    const jar = new CookieJar();
    const start = await browse(jar, `${t.url}/api/v1/auth/sso/nobody/start`);
    expect(start.status).toBe(404);
    expect(start.headers.get('set-cookie')).toBeNull();
  });

  it('asks an MFA-enrolled user for the second factor', async () => {
    const carol = await createUser(t, recorder, {
      role: 'member',
      orgId: t.boot.orgId,
      email: 'carol@example.org',
    });
    const login = await signIn(t, recorder, carol.email, carol.password);
    await enrollTotp(t, recorder, login.body.token as string);
    const jar = new CookieJar();
    const callback = await visitCallback(jar, await startAndAuthorize(jar, 'carol'));
    expect(callback.status).toBe(200);
    expect(callback.body.mfaRequired).toBe(true);
    expect(callback.body.token).toBeUndefined();
    expect(callback.body.challengeToken).toMatch(/^mw_mfa_/);
  });
});

describe('SSO secrets', () => {
  it('leak into no log, audit entry or error', async () => {
    const audit = await t.server.db.query<{ row: string }>(
      'SELECT row_to_json(a)::text AS row FROM audit_logs a',
    );
    const haystacks = [...t.logLines, ...audit.rows.map((row) => row.row), ...recorder.errorBodies];
    expect(haystacks.length).toBeGreaterThan(0);
    for (const secret of recorder.secrets) {
      expect(haystacks.filter((text) => text.includes(secret))).toEqual([]);
    }
  });
});
