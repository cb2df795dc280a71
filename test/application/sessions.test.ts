import type { FastifyReply, FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  clearSessionCookie,
  sessionCookieToken,
  setSessionCookie,
} from '../../src/application/auth/session-cookie.js';
import { base32Decode } from '../../src/application/mfa/totp.js';
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
  sessionCookie,
  signIn,
} from './identity-api.js';

let t: TestServer;
const recorder = new SecretRecorder();

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t.stop();
});

const me = (options: { token?: string; cookie?: string }) =>
  call(t, recorder, 'GET', '/api/v1/auth/me', options);

describe('cookie sessions', () => {
  it('sign-in sets an httpOnly SameSite=Strict cookie', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password, 'cookie');
    expect(login.status).toBe(200);
    expect(login.body.token).toBeUndefined();
    expect(login.body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const attributes = (login.setCookie ?? '').split('; ');
    expect(attributes[0]).toMatch(/^mw_session=mw_sess_[A-Za-z0-9_-]{43}$/);
    expect(attributes).toContain('HttpOnly');
    expect(attributes).toContain('SameSite=Strict');
    expect(attributes).toContain('Path=/');
    expect(attributes).toContain('Max-Age=43200');
    // The test server speaks plain HTTP, so the cookie cannot be Secure or use __Host-.
    expect(attributes).not.toContain('Secure');
  });

  it('reads need no CSRF token', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password, 'cookie');
    const response = await me({ cookie: sessionCookie(login) });
    expect(response.status).toBe(200);
    expect(response.body.session).toMatchObject({ sessionType: 'cookie' });
  });

  it('changes need the CSRF token', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password, 'cookie');
    const cookie = sessionCookie(login);
    const csrf = login.body.csrfToken as string;

    const missing = await call(t, recorder, 'POST', '/api/v1/auth/logout', { cookie });
    expectError(missing, 403, 'csrf_token_invalid');
    const wrong = await call(t, recorder, 'POST', '/api/v1/auth/logout', {
      cookie,
      csrf: 'A'.repeat(43),
    });
    expectError(wrong, 403, 'csrf_token_invalid');
    const other = await signIn(t, recorder, user.email, user.password, 'cookie');
    const foreign = await call(t, recorder, 'POST', '/api/v1/auth/logout', {
      cookie,
      csrf: other.body.csrfToken as string,
    });
    expectError(foreign, 403, 'csrf_token_invalid');
    expect((await me({ cookie })).status).toBe(200);

    const done = await call(t, recorder, 'POST', '/api/v1/auth/logout', { cookie, csrf });
    expect(done.status).toBe(204);
    expect(done.setCookie).toMatch(/^mw_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/);
    expectError(await me({ cookie }), 401, 'unauthorized');
  });

  it('bearer changes need no CSRF token', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password);
    const done = await call(t, recorder, 'POST', '/api/v1/auth/logout', {
      token: login.body.token as string,
    });
    expect(done.status).toBe(204);
  });

  it('bearer token in a cookie cannot change state', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password);
    const cookie = `mw_session=${login.body.token as string}`;
    const change = await call(t, recorder, 'POST', '/api/v1/auth/logout', {
      cookie,
      csrf: 'A'.repeat(43),
    });
    expectError(change, 403, 'csrf_token_invalid');
  });

  it('duplicate session cookies are ignored', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password, 'cookie');
    const cookie = sessionCookie(login);
    expectError(await me({ cookie: `${cookie}; ${cookie}` }), 401, 'unauthorized');
  });
});

describe('cookie attributes over TLS', () => {
  function fakeExchange(protocol: 'http' | 'https', cookieHeader?: string) {
    const headers: Record<string, string> = {};
    const request = {
      protocol,
      headers: { cookie: cookieHeader },
      server: { servedOverTls: false },
    } as unknown as FastifyRequest;
    const reply = {
      header(name: string, value: string) {
        headers[name] = value;
        return reply;
      },
    } as unknown as FastifyReply;
    return { request, reply, headers };
  }

  it('uses the __Host- prefix and Secure', () => {
    const { request, reply, headers } = fakeExchange('https');
    setSessionCookie(request, reply, 'mw_sess_x', 60_000);
    expect(headers['set-cookie']).toBe(
      '__Host-mw_session=mw_sess_x; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure',
    );
    clearSessionCookie(request, reply);
    expect(headers['set-cookie']).toBe(
      '__Host-mw_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure',
    );
  });

  it('reads only the __Host- cookie over TLS', () => {
    const tls = fakeExchange('https', 'mw_session=plain; __Host-mw_session=hosted');
    expect(sessionCookieToken(tls.request)).toBe('hosted');
    const plain = fakeExchange('http', 'mw_session=plain; __Host-mw_session=hosted');
    expect(sessionCookieToken(plain.request)).toBe('plain');
  });
});

describe('session timeouts', () => {
  it('idle session is rejected', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password);
    const token = login.body.token as string;
    expect((await me({ token })).status).toBe(200);
    await t.server.db.query(
      "UPDATE admin_sessions SET last_seen_at = now() - interval '31 minutes' WHERE id = $1",
      [login.body.sessionId],
    );
    expectError(await me({ token }), 401, 'unauthorized');
  });

  it('session just inside the idle timeout works', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password);
    await t.server.db.query(
      "UPDATE admin_sessions SET last_seen_at = now() - interval '29 minutes' WHERE id = $1",
      [login.body.sessionId],
    );
    expect((await me({ token: login.body.token as string })).status).toBe(200);
  });

  it('old session is rejected however active', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password);
    const token = login.body.token as string;
    await t.server.db.query(
      `UPDATE admin_sessions
          SET created_at = now() - interval '12 hours 1 minute', last_seen_at = now()
        WHERE id = $1`,
      [login.body.sessionId],
    );
    expectError(await me({ token }), 401, 'unauthorized');
  });

  it('expired session is rejected', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password);
    await t.server.db.query(
      "UPDATE admin_sessions SET expires_at = now() - interval '1 second' WHERE id = $1",
      [login.body.sessionId],
    );
    expectError(await me({ token: login.body.token as string }), 401, 'unauthorized');
  });
});

describe('session fixation', () => {
  it('sign-in ignores a planted cookie', async () => {
    const attacker = await createUser(t, recorder, { role: 'member' });
    const victim = await createUser(t, recorder, { role: 'member' });
    const planted = await signIn(t, recorder, attacker.email, attacker.password, 'cookie');
    const plantedCookie = sessionCookie(planted);

    const login = await call(t, recorder, 'POST', '/api/v1/auth/login', {
      cookie: plantedCookie,
      body: { email: victim.email, password: victim.password, sessionType: 'cookie' },
    });
    expect(login.status).toBe(200);
    const issued = sessionCookie(login);
    expect(issued).not.toBe(plantedCookie);
    expect(login.body.sessionId).not.toBe(planted.body.sessionId);
    const asVictim = await me({ cookie: issued });
    expect(asVictim.body.user).toMatchObject({ id: victim.id });
    const asAttacker = await me({ cookie: plantedCookie });
    expect(asAttacker.body.user).toMatchObject({ id: attacker.id });
  });

  it('MFA enrollment replaces the session', async () => {
    const user = await createUser(t, recorder, { role: 'admin' });
    const login = await signIn(t, recorder, user.email, user.password);
    const before = login.body.token as string;
    const enrolled = await enrollTotp(t, recorder, before);
    expect(enrolled.token).not.toBe(before);
    expectError(await me({ token: before }), 401, 'unauthorized');
    const after = await me({ token: enrolled.token });
    expect(after.status).toBe(200);
    expect(after.body.session).not.toMatchObject({ id: login.body.sessionId });
  });

  it('MFA sign-in opens a new session', async () => {
    const user = await createUser(t, recorder, { role: 'admin' });
    const first = await signIn(t, recorder, user.email, user.password, 'cookie');
    const firstCookie = sessionCookie(first);
    const enrollResponse = await call(t, recorder, 'POST', '/api/v1/auth/mfa/totp', {
      cookie: firstCookie,
      csrf: first.body.csrfToken as string,
      body: {},
    });
    expect(enrollResponse.status).toBe(201);
    const secret = base32Decode(enrollResponse.body.secret as string);
    recorder.add(secret.toString('hex'));
    const confirm = await call(t, recorder, 'POST', '/api/v1/auth/mfa/totp/confirm', {
      cookie: firstCookie,
      csrf: first.body.csrfToken as string,
      body: { code: codeAt(secret) },
    });
    expect(confirm.status).toBe(200);
    const rotatedCookie = sessionCookie(confirm);
    expect(rotatedCookie).not.toBe(firstCookie);
    expect(confirm.body.csrfToken).not.toBe(first.body.csrfToken);
    expectError(await me({ cookie: firstCookie }), 401, 'unauthorized');

    const password = await call(t, recorder, 'POST', '/api/v1/auth/login', {
      cookie: rotatedCookie,
      body: { email: user.email, password: user.password, sessionType: 'cookie' },
    });
    expect(password.body.mfaRequired).toBe(true);
    expect(password.setCookie).toBeNull();
    const done = await call(t, recorder, 'POST', '/api/v1/auth/mfa/challenge', {
      cookie: rotatedCookie,
      body: { challengeToken: password.body.challengeToken, code: codeAt(secret, 1) },
    });
    expect(done.status).toBe(200);
    const finalCookie = sessionCookie(done);
    expect(finalCookie).not.toBe(rotatedCookie);
    expect(done.body.sessionId).not.toBe(confirm.body.sessionId);
    expect(done.body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('session management', () => {
  it('lists own open sessions', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const first = await signIn(t, recorder, user.email, user.password);
    const second = await signIn(t, recorder, user.email, user.password, 'cookie');
    const list = await call(t, recorder, 'GET', '/api/v1/auth/sessions', {
      token: first.body.token as string,
    });
    expect(list.status).toBe(200);
    const sessions = list.body.sessions as { id: string; current: boolean; sessionType: string }[];
    expect(sessions.map((session) => session.id).sort()).toEqual(
      [first.body.sessionId, second.body.sessionId].sort(),
    );
    expect(sessions.find((session) => session.current)?.id).toBe(first.body.sessionId);
    expect(sessions.find((session) => !session.current)?.sessionType).toBe('cookie');
  });

  it('revokes one own session', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const first = await signIn(t, recorder, user.email, user.password);
    const second = await signIn(t, recorder, user.email, user.password);
    const token = first.body.token as string;
    const revoked = await call(
      t,
      recorder,
      'DELETE',
      `/api/v1/auth/sessions/${second.body.sessionId as string}`,
      { token },
    );
    expect(revoked.status).toBe(204);
    expectError(await me({ token: second.body.token as string }), 401, 'unauthorized');
    expect((await me({ token })).status).toBe(200);
    const rows = await auditRows(t, 'session.revoked');
    expect(rows.at(-1)?.metadata).toEqual({ scope: 'one', current: false });
  });

  it('cannot revoke another user session', async () => {
    const owner = await createUser(t, recorder, { role: 'member' });
    const stranger = await createUser(t, recorder, { role: 'member' });
    const mine = await signIn(t, recorder, owner.email, owner.password);
    const theirs = await signIn(t, recorder, stranger.email, stranger.password);
    const attempt = await call(
      t,
      recorder,
      'DELETE',
      `/api/v1/auth/sessions/${theirs.body.sessionId as string}`,
      { token: mine.body.token as string },
    );
    expectError(attempt, 404, 'not_found');
    expect((await me({ token: theirs.body.token as string })).status).toBe(200);
  });

  it('revoke-all signs out everywhere', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const first = await signIn(t, recorder, user.email, user.password);
    const second = await signIn(t, recorder, user.email, user.password, 'cookie');
    const done = await call(t, recorder, 'POST', '/api/v1/auth/sessions/revoke-all', {
      cookie: sessionCookie(second),
      csrf: second.body.csrfToken as string,
    });
    expect(done.status).toBe(204);
    expectError(await me({ token: first.body.token as string }), 401, 'unauthorized');
    expectError(await me({ cookie: sessionCookie(second) }), 401, 'unauthorized');
    const rows = await auditRows(t, 'session.revoked');
    expect(rows.at(-1)?.metadata).toEqual({ scope: 'all', count: 2 });
  });

  it('leaks no secret', async () => {
    await expectNoSecretLeaks(t, recorder);
  });
});
