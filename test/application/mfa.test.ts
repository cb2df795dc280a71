import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  auditRows,
  call,
  codeAt,
  createUser,
  enrollTotp,
  expectError,
  expectNoSecretLeaks,
  SecretRecorder,
  signIn,
} from './identity-api.js';

let t: TestServer;
const recorder = new SecretRecorder();

beforeAll(async () => {
  // Wrong codes count towards the lockout; these tests make more than the default allows.
  t = await startTestServer({
    env: { LOGIN_LOCKOUT_ACCOUNT_FAILURES: '50', LOGIN_LOCKOUT_IP_FAILURES: '500' },
  });
});

afterAll(async () => {
  await t.stop();
});

const challenge = (challengeToken: string, code: string) =>
  call(t, recorder, 'POST', '/api/v1/auth/mfa/challenge', { body: { challengeToken, code } });

describe('sign-in without MFA', () => {
  it('member gets a session at once', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password);
    expect(login.status).toBe(200);
    expect(login.body.token).toMatch(/^mw_sess_/);
    expect(login.body.mfaEnrollmentRequired).toBe(false);
    expect(login.body.mfaRequired).toBeUndefined();
    const orgs = await call(t, recorder, 'GET', '/api/v1/organizations', {
      token: login.body.token as string,
    });
    expect(orgs.status).toBe(200);
  });
});

describe('MFA for privileged roles', () => {
  for (const role of ['owner', 'admin', 'security_admin'] as const) {
    it(`${role} must enroll before other routes`, async () => {
      const user = await createUser(t, recorder, { role });
      const login = await signIn(t, recorder, user.email, user.password);
      expect(login.status).toBe(200);
      expect(login.body.mfaEnrollmentRequired).toBe(true);
      const token = login.body.token as string;

      const orgs = await call(t, recorder, 'GET', '/api/v1/organizations', { token });
      expectError(orgs, 403, 'mfa_enrollment_required');
      const org = await call(t, recorder, 'GET', `/api/v1/organizations/${user.orgId}`, { token });
      expectError(org, 403, 'mfa_enrollment_required');
      const me = await call(t, recorder, 'GET', '/api/v1/auth/me', { token });
      expect(me.status).toBe(200);
      expect(me.body.mfaEnrollmentRequired).toBe(true);

      const enrolled = await enrollTotp(t, recorder, token);
      expect(enrolled.recoveryCodes).toHaveLength(10);
      expect(new Set(enrolled.recoveryCodes).size).toBe(10);
      const after = await call(t, recorder, 'GET', '/api/v1/organizations', {
        token: enrolled.token,
      });
      expect(after.status).toBe(200);
    });
  }

  it('organization setting requires MFA of members', async () => {
    const user = await createUser(t, recorder, { role: 'viewer' });
    const login = await signIn(t, recorder, user.email, user.password);
    const token = login.body.token as string;
    expect((await call(t, recorder, 'GET', '/api/v1/organizations', { token })).status).toBe(200);

    await t.owner.query('UPDATE organizations SET require_mfa = true WHERE id = $1', [user.orgId]);
    const blocked = await call(t, recorder, 'GET', '/api/v1/organizations', { token });
    expectError(blocked, 403, 'mfa_enrollment_required');
  });
});

describe('two-step sign-in', () => {
  let user: Awaited<ReturnType<typeof createUser>>;
  let secret: Buffer;
  let recoveryCodes: string[];
  let usedCode: string;

  beforeAll(async () => {
    user = await createUser(t, recorder, { role: 'admin' });
    const login = await signIn(t, recorder, user.email, user.password);
    ({ secret, recoveryCodes } = await enrollTotp(t, recorder, login.body.token as string));
  });

  it('password step returns a challenge only', async () => {
    const login = await signIn(t, recorder, user.email, user.password);
    expect(login.status).toBe(200);
    expect(login.body.mfaRequired).toBe(true);
    expect(login.body.challengeToken).toMatch(/^mw_mfa_/);
    expect(login.body.token).toBeUndefined();
    expect(login.setCookie).toBeNull();
  });

  it('TOTP code completes the sign-in', async () => {
    const login = await signIn(t, recorder, user.email, user.password);
    // Enrollment used the current time step, so the next step's code is the one still unused.
    usedCode = codeAt(secret, 1);
    const done = await challenge(login.body.challengeToken as string, usedCode);
    expect(done.status).toBe(200);
    expect(done.body.token).toMatch(/^mw_sess_/);
    const me = await call(t, recorder, 'GET', '/api/v1/auth/me', {
      token: done.body.token as string,
    });
    expect(me.status).toBe(200);
    expect(me.body.session).toMatchObject({ id: done.body.sessionId });
    const logins = (await auditRows(t, 'user.login')).filter((row) => row.actor_id === user.id);
    expect(logins.at(-1)?.metadata).toEqual({ sessionType: 'bearer', mfa: 'totp' });
  });

  it('reused TOTP code is rejected', async () => {
    const login = await signIn(t, recorder, user.email, user.password);
    const reused = await challenge(login.body.challengeToken as string, usedCode);
    expectError(reused, 401, 'unauthorized');
    // A code of an earlier time step than the last one used is rejected too.
    const older = await challenge(login.body.challengeToken as string, codeAt(secret, 0));
    expectError(older, 401, 'unauthorized');
    const failures = (await auditRows(t, 'user.mfa_challenge_failed')).map((row) => row.metadata);
    expect(failures.slice(-2)).toEqual([
      { reason: 'code_reused', method: 'totp' },
      { reason: 'code_reused', method: 'totp' },
    ]);
  });

  it('recovery code works once', async () => {
    const first = await signIn(t, recorder, user.email, user.password);
    const code = recoveryCodes[0] as string;
    const done = await challenge(first.body.challengeToken as string, code);
    expect(done.status).toBe(200);
    const used = await auditRows(t, 'user.recovery_code_used');
    expect(used.at(-1)?.metadata).toEqual({ remaining: 9 });

    const second = await signIn(t, recorder, user.email, user.password);
    const again = await challenge(second.body.challengeToken as string, code);
    expectError(again, 401, 'unauthorized');
    // Another code, typed in upper case without hyphens, still works.
    const typed = (recoveryCodes[1] as string).replace(/-/g, '').toUpperCase();
    const other = await challenge(second.body.challengeToken as string, typed);
    expect(other.status).toBe(200);
  });

  it('challenge works once', async () => {
    const login = await signIn(t, recorder, user.email, user.password);
    const token = login.body.challengeToken as string;
    expect((await challenge(token, recoveryCodes[2] as string)).status).toBe(200);
    expectError(await challenge(token, recoveryCodes[3] as string), 401, 'unauthorized');
  });

  it('challenge is void after five wrong codes', async () => {
    const login = await signIn(t, recorder, user.email, user.password);
    const token = login.body.challengeToken as string;
    for (let i = 0; i < 5; i++) {
      expectError(await challenge(token, '000000'), 401, 'unauthorized');
    }
    expectError(await challenge(token, recoveryCodes[4] as string), 401, 'unauthorized');
  });

  it('expired challenge is rejected', async () => {
    const login = await signIn(t, recorder, user.email, user.password);
    await t.server.db.query(
      "UPDATE mfa_challenges SET expires_at = now() - interval '1 second' WHERE user_id = $1",
      [user.id],
    );
    const late = await challenge(login.body.challengeToken as string, recoveryCodes[5] as string);
    expectError(late, 401, 'unauthorized');
  });

  it('malformed challenge input is a validation error', async () => {
    const bad = await call(t, recorder, 'POST', '/api/v1/auth/mfa/challenge', {
      body: { challengeToken: 'x', code: '1', extra: true },
    });
    expectError(bad, 400, 'validation_failed');
  });
});

describe('TOTP enrollment and removal', () => {
  it('enrollment needs a correct first code', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password);
    const token = login.body.token as string;
    const begin = await call(t, recorder, 'POST', '/api/v1/auth/mfa/totp', { token, body: {} });
    expect(begin.status).toBe(201);
    expect(begin.body.otpauthUri).toMatch(/^otpauth:\/\/totp\/MindWeave:/);
    const wrong = await call(t, recorder, 'POST', '/api/v1/auth/mfa/totp/confirm', {
      token,
      body: { code: '000000' },
    });
    expectError(wrong, 400, 'validation_failed');
    const status = await call(t, recorder, 'GET', '/api/v1/auth/mfa', { token });
    expect(status.body).toEqual({
      enrolled: false,
      required: false,
      pendingEnrollment: true,
      recoveryCodesRemaining: 0,
    });
  });

  it('second enrollment is a conflict', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password);
    const enrolled = await enrollTotp(t, recorder, login.body.token as string);
    const again = await call(t, recorder, 'POST', '/api/v1/auth/mfa/totp', {
      token: enrolled.token,
      body: {},
    });
    expectError(again, 409, 'conflict');
  });

  it('removal needs the current password', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password);
    const { token } = await enrollTotp(t, recorder, login.body.token as string);

    recorder.add('Not-My-Password-9!');
    const wrong = await call(t, recorder, 'DELETE', '/api/v1/auth/mfa/totp', {
      token,
      body: { currentPassword: 'Not-My-Password-9!' },
    });
    expectError(wrong, 400, 'validation_failed');
    const removed = await call(t, recorder, 'DELETE', '/api/v1/auth/mfa/totp', {
      token,
      body: { currentPassword: user.password },
    });
    expect(removed.status).toBe(204);
    const rows = await auditRows(t, 'user.mfa_removed');
    expect(rows.at(-1)?.actor_id).toBe(user.id);

    const next = await signIn(t, recorder, user.email, user.password);
    expect(next.body.token).toMatch(/^mw_sess_/);
    expect(next.body.mfaRequired).toBeUndefined();
  });

  it('enrollment is audited', async () => {
    const rows = await auditRows(t, 'user.mfa_enrolled');
    expect(rows.length).toBeGreaterThanOrEqual(5);
    expect(rows.at(-1)?.metadata).toMatchObject({ method: 'totp', recoveryCodes: 10 });
  });
});

describe('MFA secrets', () => {
  it('are stored sealed', async () => {
    const result = await t.server.db.query<{ secret_sealed: string }>(
      'SELECT secret_sealed FROM user_totp_factors',
    );
    expect(result.rows.length).toBeGreaterThan(0);
    // Field ciphertexts under the platform data key: mw1.<keyId>.<version>.<payload>.
    for (const row of result.rows) {
      expect(row.secret_sealed).toMatch(/^mw1\.[A-Za-z0-9_-]+\.[1-9][0-9]*\.[A-Za-z0-9_-]+$/);
    }
  });

  it('leak nowhere', async () => {
    await expectNoSecretLeaks(t, recorder);
  });
});
