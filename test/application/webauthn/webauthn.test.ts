import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SoftwareAuthenticator } from '../../support/software-authenticator.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import {
  auditRows,
  call,
  createUser,
  expectError,
  expectNoSecretLeaks,
  SecretRecorder,
  signIn,
  type CallResult,
} from '../identity-api.js';

const ORIGIN = 'http://localhost:3000';
const BASE = '/api/v1/auth/mfa/webauthn';

let t: TestServer;
const recorder = new SecretRecorder();

beforeAll(async () => {
  t = await startTestServer({
    env: {
      WEBAUTHN_ORIGIN: ORIGIN,
      LOGIN_LOCKOUT_ACCOUNT_FAILURES: '50',
      LOGIN_LOCKOUT_IP_FAILURES: '500',
    },
  });
});

afterAll(async () => {
  await t.stop();
});

interface Enrolled {
  user: { id: string; email: string; password: string; orgId: string };
  authenticator: SoftwareAuthenticator;
  token: string;
  credentialId: string;
}

/** Signs a new user in with a password and registers a software authenticator. */
async function enrolledUser(role: 'owner' | 'member' = 'member'): Promise<Enrolled> {
  const user = await createUser(t, recorder, { role });
  const login = await signIn(t, recorder, user.email, user.password);
  expect(login.status).toBe(200);
  const token = login.body.token as string;
  const authenticator = new SoftwareAuthenticator(ORIGIN);
  const options = await call(t, recorder, 'POST', `${BASE}/registration/options`, {
    token,
    body: {},
  });
  expect(options.status).toBe(200);
  const verify = await call(t, recorder, 'POST', `${BASE}/registration/verify`, {
    token,
    body: { name: 'Test key', credential: authenticator.create(options.body as never) },
  });
  expect(verify.status).toBe(201);
  const credential = verify.body.credential as { id: string };
  return { user, authenticator, token: verify.body.token as string, credentialId: credential.id };
}

/** Signs in with the password and returns the MFA challenge token. */
async function passwordStep(user: { email: string; password: string }): Promise<string> {
  const login = await signIn(t, recorder, user.email, user.password);
  expect(login.status).toBe(200);
  expect(login.body.mfaRequired).toBe(true);
  return login.body.challengeToken as string;
}

async function assertionOptions(challengeToken: string): Promise<CallResult> {
  return call(t, recorder, 'POST', `${BASE}/authentication/options`, {
    body: { challengeToken },
  });
}

async function verifyAssertion(challengeToken: string, credential: unknown): Promise<CallResult> {
  return call(t, recorder, 'POST', `${BASE}/authentication/verify`, {
    body: { challengeToken, credential },
  });
}

async function lastFailureReason(userId: string): Promise<unknown> {
  const rows = await auditRows(t, 'user.mfa_challenge_failed');
  return rows.filter((row) => row.actor_id === userId).at(-1)?.metadata.reason;
}

describe('WebAuthn registration', () => {
  it('enrolls and lists the credential', async () => {
    const { user, token, credentialId } = await enrolledUser();
    const list = await call(t, recorder, 'GET', `${BASE}/credentials`, { token });
    expect(list.status).toBe(200);
    const data = list.body.data as { id: string; name: string; transports: string[] }[];
    expect(data).toHaveLength(1);
    expect(data[0]?.id).toBe(credentialId);
    expect(data[0]?.name).toBe('Test key');
    expect(data[0]?.transports).toEqual(['usb']);
    expect(JSON.stringify(list.body)).not.toContain('publicKey');

    const status = await call(t, recorder, 'GET', '/api/v1/auth/mfa', { token });
    expect(status.body.enrolled).toBe(true);
    const enrolled = (await auditRows(t, 'user.mfa_enrolled')).filter(
      (row) => row.actor_id === user.id,
    );
    expect(enrolled).toHaveLength(1);
    expect(enrolled[0]?.metadata.method).toBe('webauthn');
  });

  it('replaces the session on enrollment', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const token = (await signIn(t, recorder, user.email, user.password)).body.token as string;
    const authenticator = new SoftwareAuthenticator(ORIGIN);
    const options = await call(t, recorder, 'POST', `${BASE}/registration/options`, {
      token,
      body: {},
    });
    const verify = await call(t, recorder, 'POST', `${BASE}/registration/verify`, {
      token,
      body: { name: 'Key', credential: authenticator.create(options.body as never) },
    });
    expect(verify.status).toBe(201);
    expect(verify.body.token).not.toBe(token);
    const old = await call(t, recorder, 'GET', '/api/v1/auth/me', { token });
    expectError(old, 401, 'unauthorized');
  });

  it('rejects registration from another origin', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const token = (await signIn(t, recorder, user.email, user.password)).body.token as string;
    const authenticator = new SoftwareAuthenticator('http://evil.example:3000');
    const options = await call(t, recorder, 'POST', `${BASE}/registration/options`, {
      token,
      body: {},
    });
    const verify = await call(t, recorder, 'POST', `${BASE}/registration/verify`, {
      token,
      body: { name: 'Key', credential: authenticator.create(options.body as never) },
    });
    expectError(verify, 400, 'validation_failed');
    expect(verify.body.details).toEqual([
      { field: 'credential', message: 'The credential does not match the registration request' },
    ]);
  });

  it('rejects a reused registration challenge', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const token = (await signIn(t, recorder, user.email, user.password)).body.token as string;
    const options = await call(t, recorder, 'POST', `${BASE}/registration/options`, {
      token,
      body: {},
    });
    const wrong = new SoftwareAuthenticator('http://evil.example:3000');
    const first = await call(t, recorder, 'POST', `${BASE}/registration/verify`, {
      token,
      body: { name: 'Key', credential: wrong.create(options.body as never) },
    });
    expect(first.status).toBe(400);
    const right = new SoftwareAuthenticator(ORIGIN);
    const second = await call(t, recorder, 'POST', `${BASE}/registration/verify`, {
      token,
      body: { name: 'Key', credential: right.create(options.body as never) },
    });
    expectError(second, 409, 'conflict');
  });

  it('rejects unknown fields and bad names', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const token = (await signIn(t, recorder, user.email, user.password)).body.token as string;
    const extra = await call(t, recorder, 'POST', `${BASE}/registration/options`, {
      token,
      body: { admin: true },
    });
    expectError(extra, 400, 'validation_failed');
    const noName = await call(t, recorder, 'POST', `${BASE}/registration/verify`, {
      token,
      body: { name: '', credential: { id: 'x' } },
    });
    expectError(noName, 400, 'validation_failed');
    const fields = (noName.body.details as { field: string }[]).map((issue) => issue.field);
    expect(fields).toContain('name');
    expect(fields).toContain('credential.rawId');
  });
});

describe('WebAuthn at the MFA step', () => {
  it('signs in with the authenticator', async () => {
    const { user, authenticator } = await enrolledUser();
    const challengeToken = await passwordStep(user);
    const options = await assertionOptions(challengeToken);
    expect(options.status).toBe(200);
    expect(options.body.rpId).toBe('localhost');
    const allowed = options.body.allowCredentials as { id: string }[];
    expect(allowed.map((credential) => credential.id)).toEqual([authenticator.id]);

    const verify = await verifyAssertion(challengeToken, authenticator.get(options.body as never));
    expect(verify.status).toBe(200);
    expect(verify.body.token).toMatch(/^mw_sess_/);
    const orgs = await call(t, recorder, 'GET', '/api/v1/organizations', {
      token: verify.body.token as string,
    });
    expect(orgs.status).toBe(200);
    const logins = (await auditRows(t, 'user.login')).filter((row) => row.actor_id === user.id);
    expect(logins.at(-1)?.metadata.mfa).toBe('webauthn');
  });

  it('counts an owner with a passkey as enrolled', async () => {
    const { user, authenticator } = await enrolledUser('owner');
    const challengeToken = await passwordStep(user);
    const options = await assertionOptions(challengeToken);
    const verify = await verifyAssertion(challengeToken, authenticator.get(options.body as never));
    expect(verify.status).toBe(200);
    expect(verify.body.mfaEnrollmentRequired).toBe(false);
    const org = await call(t, recorder, 'GET', `/api/v1/organizations/${user.orgId}`, {
      token: verify.body.token as string,
    });
    expect(org.status).toBe(200);
  });

  it('rejects an assertion for another origin', async () => {
    const { user, authenticator } = await enrolledUser();
    const challengeToken = await passwordStep(user);
    const options = await assertionOptions(challengeToken);
    const assertion = authenticator.get(options.body as never, 'http://evil.example:3000');
    const verify = await verifyAssertion(challengeToken, assertion);
    expectError(verify, 401, 'unauthorized');
    expect(await lastFailureReason(user.id)).toBe('invalid_assertion');
  });

  it('rejects a replayed assertion', async () => {
    const { user, authenticator } = await enrolledUser();
    const first = await passwordStep(user);
    const options = await assertionOptions(first);
    const assertion = authenticator.get(options.body as never);
    expect((await verifyAssertion(first, assertion)).status).toBe(200);

    // The same signed assertion, sent again within a new sign-in: its challenge is spent.
    const second = await passwordStep(user);
    await assertionOptions(second);
    const replay = await verifyAssertion(second, assertion);
    expectError(replay, 401, 'unauthorized');
    expect(await lastFailureReason(user.id)).toBe('counter_regression');

    // And sent again to the sign-in it completed: that challenge is consumed.
    const again = await verifyAssertion(first, assertion);
    expectError(again, 401, 'unauthorized');
  });

  it('rejects a counter that went backwards', async () => {
    const { user, authenticator } = await enrolledUser();
    const first = await passwordStep(user);
    authenticator.counter = 10;
    const options = await assertionOptions(first);
    expect((await verifyAssertion(first, authenticator.get(options.body as never))).status).toBe(
      200,
    );

    // A clone of the authenticator that has signed fewer times: a fresh signature, old counter.
    const second = await passwordStep(user);
    authenticator.counter = 4;
    const cloneOptions = await assertionOptions(second);
    const verify = await verifyAssertion(second, authenticator.get(cloneOptions.body as never));
    expectError(verify, 401, 'unauthorized');
    expect(await lastFailureReason(user.id)).toBe('counter_regression');
    const stored = await t.server.db.query<{ counter: string }>(
      'SELECT counter::text FROM user_webauthn_credentials WHERE user_id = $1',
      [user.id],
    );
    expect(stored.rows[0]?.counter).toBe('11');
  });

  it("rejects another user's credential", async () => {
    const victim = await enrolledUser();
    const attacker = await enrolledUser();
    const challengeToken = await passwordStep(victim.user);
    const options = await assertionOptions(challengeToken);
    const verify = await verifyAssertion(
      challengeToken,
      attacker.authenticator.get(options.body as never),
    );
    expectError(verify, 401, 'unauthorized');
    expect(await lastFailureReason(victim.user.id)).toBe('unknown_credential');
  });

  it('rejects an assertion without options first', async () => {
    const { user, authenticator } = await enrolledUser();
    const challengeToken = await passwordStep(user);
    const forged = authenticator.get({ challenge: 'AAAAAAAAAAAAAAAAAAAAAA', rpId: 'localhost' });
    const verify = await verifyAssertion(challengeToken, forged);
    expectError(verify, 401, 'unauthorized');
    expect(await lastFailureReason(user.id)).toBe('no_webauthn_challenge');
  });

  it('rejects options for an unknown challenge token', async () => {
    const options = await assertionOptions('mw_mfa_' + 'A'.repeat(43));
    expectError(options, 401, 'unauthorized');
  });
});

describe('WebAuthn credential removal', () => {
  it('needs the current password', async () => {
    const { user, token, credentialId } = await enrolledUser();
    const wrong = await call(t, recorder, 'DELETE', `${BASE}/credentials/${credentialId}`, {
      token,
      body: { currentPassword: 'Not-The-Password-1!' },
    });
    expectError(wrong, 400, 'validation_failed');

    const removed = await call(t, recorder, 'DELETE', `${BASE}/credentials/${credentialId}`, {
      token,
      body: { currentPassword: user.password },
    });
    expect(removed.status).toBe(204);
    const list = await call(t, recorder, 'GET', `${BASE}/credentials`, { token });
    expect(list.body.data).toEqual([]);
    const audit = (await auditRows(t, 'user.mfa_removed')).filter(
      (row) => row.actor_id === user.id,
    );
    expect(audit[0]?.metadata).toEqual({ method: 'webauthn', credentialId });

    // Without a factor, the password alone signs in again.
    const login = await signIn(t, recorder, user.email, user.password);
    expect(login.body.token).toMatch(/^mw_sess_/);
  });

  it("cannot remove another user's credential", async () => {
    const victim = await enrolledUser();
    const attacker = await enrolledUser();
    const removed = await call(
      t,
      recorder,
      'DELETE',
      `${BASE}/credentials/${victim.credentialId}`,
      { token: attacker.token, body: { currentPassword: attacker.user.password } },
    );
    expectError(removed, 404, 'not_found');
  });
});

describe('WebAuthn secrets', () => {
  it('leak into no log, audit entry or error', async () => {
    await expectNoSecretLeaks(t, recorder);
  });
});
