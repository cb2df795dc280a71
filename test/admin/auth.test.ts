import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  api,
  auditRows,
  detailFields,
  expectAdminError,
  login,
  OWNER_PASSWORD,
} from './admin-api.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t.stop();
});

const orgsPath = () => `/api/v1/organizations/${t.boot.orgId}`;

// The tests run in order: the owner signs in with the one-time password, changes it, and the
// later tests use the new password.
describe('admin sign-in and sessions', () => {
  it('wrong password matches unknown email', async () => {
    const wrong = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: t.boot.adminEmail, password: 'Not-The-Password1!' },
    });
    const unknown = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: 'nobody@example.com', password: 'Not-The-Password1!' },
    });
    expectAdminError(wrong, 401, 'unauthorized');
    expectAdminError(unknown, 401, 'unauthorized');
    const { requestId: _a, ...wrongBody } = wrong.body;
    const { requestId: _b, ...unknownBody } = unknown.body;
    expect(wrongBody).toEqual(unknownBody);
    expect(wrong.body.requestId).not.toBe(unknown.body.requestId);
  });

  it('failed sign-ins are audited with their reason', async () => {
    const rows = await auditRows(t.owner, 'user.login_failed');
    const reasons = rows.map((row) => (row.metadata as { reason: string }).reason);
    expect(reasons).toEqual(['wrong_password', 'unknown_email']);
    expect(rows[0]?.actor_id).toBe(t.boot.adminUserId);
    expect(rows[1]?.actor_type).toBe('system');
  });

  it('email is matched without regard to case', async () => {
    const token = await login(t, t.boot.adminEmail.toUpperCase(), t.boot.adminPassword);
    expect(token).toMatch(/^mw_sess_/);
  });

  it('one-time password blocks other routes', async () => {
    const token = await login(t, t.boot.adminEmail, t.boot.adminPassword);
    for (const path of ['/api/v1/organizations', orgsPath(), `${orgsPath()}/projects`]) {
      const response = await api(t, 'GET', path, { token });
      expectAdminError(response, 403, 'password_change_required');
    }
    const me = await api(t, 'GET', '/api/v1/auth/me', { token });
    expect(me.status).toBe(200);
    expect(me.body.mustChangePassword).toBe(true);
  });

  it('sign-in reports mustChangePassword', async () => {
    const response = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: t.boot.adminEmail, password: t.boot.adminPassword },
    });
    expect(response.status).toBe(200);
    expect(response.body.mustChangePassword).toBe(true);
    expect(Date.parse(response.body.expiresAt as string)).toBeGreaterThan(Date.now());
  });

  it('password policy lists each broken rule', async () => {
    const token = await login(t, t.boot.adminEmail, t.boot.adminPassword);
    const cases: [string, string][] = [
      ['Sh0rt!', 'at least 10 characters'],
      ['alllowercase1!', 'uppercase'],
      ['ALLUPPERCASE1!', 'lowercase'],
      ['NoDigitsHere!!', 'number'],
      ['NoSymbols12345', 'special character'],
      ['A1!' + 'a'.repeat(300), 'at most 256'],
    ];
    for (const [newPassword, message] of cases) {
      const response = await api(t, 'POST', '/api/v1/auth/password', {
        token,
        body: { currentPassword: t.boot.adminPassword, newPassword },
      });
      expectAdminError(response, 400, 'validation_failed');
      expect(detailFields(response)).toContain('newPassword');
      expect(JSON.stringify(response.body.details)).toContain(message);
    }
  });

  it('wrong current password is a field error', async () => {
    const token = await login(t, t.boot.adminEmail, t.boot.adminPassword);
    const response = await api(t, 'POST', '/api/v1/auth/password', {
      token,
      body: { currentPassword: 'Wrong-Passw0rd!', newPassword: OWNER_PASSWORD },
    });
    expectAdminError(response, 400, 'validation_failed');
    expect(detailFields(response)).toEqual(['currentPassword']);
  });

  it('unchanged password is rejected', async () => {
    const token = await login(t, t.boot.adminEmail, t.boot.adminPassword);
    const response = await api(t, 'POST', '/api/v1/auth/password', {
      token,
      body: { currentPassword: t.boot.adminPassword, newPassword: t.boot.adminPassword },
    });
    expectAdminError(response, 400, 'validation_failed');
    expect(detailFields(response)).toEqual(['newPassword']);
  });

  it('password change unlocks, ends other sessions', async () => {
    const other = await login(t, t.boot.adminEmail, t.boot.adminPassword);
    const token = await login(t, t.boot.adminEmail, t.boot.adminPassword);
    const change = await api(t, 'POST', '/api/v1/auth/password', {
      token,
      body: { currentPassword: t.boot.adminPassword, newPassword: OWNER_PASSWORD },
    });
    expect(change.status).toBe(204);

    // The owner is past the one-time password, and must enroll a second factor next.
    const orgs = await api(t, 'GET', '/api/v1/organizations', { token });
    expectAdminError(orgs, 403, 'mfa_enrollment_required');
    const me = await api(t, 'GET', '/api/v1/auth/me', { token });
    expect(me.status).toBe(200);
    const stale = await api(t, 'GET', '/api/v1/auth/me', { token: other });
    expectAdminError(stale, 401, 'unauthorized');

    const rows = await auditRows(t.owner, 'user.password_changed');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.resource_id).toBe(t.boot.adminUserId);
    expect(rows[0]?.request_id).toBe(change.headers.get('x-request-id'));
  });

  it('one-time password stops working after the change', async () => {
    const response = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: t.boot.adminEmail, password: t.boot.adminPassword },
    });
    expectAdminError(response, 401, 'unauthorized');
  });

  it('me returns the user, session and organizations', async () => {
    const token = await login(t, t.boot.adminEmail, OWNER_PASSWORD);
    const response = await api(t, 'GET', '/api/v1/auth/me', { token });
    expect(response.status).toBe(200);
    expect(response.body.user).toEqual({
      id: t.boot.adminUserId,
      email: t.boot.adminEmail,
      name: 'Olivia Owner',
    });
    expect(response.body.mustChangePassword).toBe(false);
    expect(response.body.organizations).toEqual([
      { id: t.boot.orgId, name: 'Acme', role: 'owner' },
    ]);
    expect(JSON.stringify(response.body)).not.toContain('password');
  });

  it('successful sign-ins are audited', async () => {
    const rows = await auditRows(t.owner, 'user.login');
    expect(rows.length).toBeGreaterThanOrEqual(8);
    expect(rows.every((row) => row.actor_id === t.boot.adminUserId)).toBe(true);
    expect(rows.every((row) => row.resource_type === 'session')).toBe(true);
  });

  it('logout revokes the token', async () => {
    const token = await login(t, t.boot.adminEmail, OWNER_PASSWORD);
    const logout = await api(t, 'POST', '/api/v1/auth/logout', { token });
    expect(logout.status).toBe(204);
    const after = await api(t, 'GET', '/api/v1/auth/me', { token });
    expectAdminError(after, 401, 'unauthorized');
    const again = await api(t, 'POST', '/api/v1/auth/logout', { token });
    expectAdminError(again, 401, 'unauthorized');
    expect(await auditRows(t.owner, 'user.logout')).toHaveLength(1);
  });

  it('malformed and foreign bearer tokens get 401', async () => {
    const tokens = ['', 'mw_sess_short', `mw_sess_${'A'.repeat(43)}`, t.boot.apiKey];
    for (const token of tokens) {
      const response = await api(t, 'GET', '/api/v1/auth/me', {
        headers: { authorization: `Bearer ${token}` },
      });
      expectAdminError(response, 401, 'unauthorized');
    }
    const basic = await api(t, 'GET', '/api/v1/auth/me', {
      headers: { authorization: 'Basic b3duZXI6cGFzcw==' },
    });
    expectAdminError(basic, 401, 'unauthorized');
  });

  it('disabled user is signed out', async () => {
    const token = await login(t, t.boot.adminEmail, OWNER_PASSWORD);
    await t.server.db.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [
      t.boot.adminUserId,
    ]);
    try {
      const me = await api(t, 'GET', '/api/v1/auth/me', { token });
      expectAdminError(me, 401, 'unauthorized');
      const again = await api(t, 'POST', '/api/v1/auth/login', {
        body: { email: t.boot.adminEmail, password: OWNER_PASSWORD },
      });
      expectAdminError(again, 401, 'unauthorized');
      expect(again.body.error).toBe('Invalid email or password');
      const rows = await auditRows(t.owner, 'user.login_failed');
      expect((rows.at(-1)?.metadata as { reason: string }).reason).toBe('user_disabled');
    } finally {
      await t.server.db.query(`UPDATE users SET status = 'active' WHERE id = $1`, [
        t.boot.adminUserId,
      ]);
    }
  });

  it('expired session gets 401', async () => {
    const token = await login(t, t.boot.adminEmail, OWNER_PASSWORD);
    await t.server.db.query(
      `UPDATE admin_sessions SET expires_at = now() - interval '1 second'
        WHERE revoked_at IS NULL`,
    );
    const response = await api(t, 'GET', '/api/v1/auth/me', { token });
    expectAdminError(response, 401, 'unauthorized');
  });

  it('idle session gets 401', async () => {
    const token = await login(t, t.boot.adminEmail, OWNER_PASSWORD);
    await t.server.db.query(
      `UPDATE admin_sessions SET last_seen_at = now() - interval '31 minutes'
        WHERE revoked_at IS NULL AND expires_at > now()`,
    );
    const response = await api(t, 'GET', '/api/v1/auth/me', { token });
    expectAdminError(response, 401, 'unauthorized');
  });
});
