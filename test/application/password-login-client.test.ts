import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';
import { call, SecretRecorder, signIn } from './identity-api.js';

describe('password sign-in on an embedded server', () => {
  const recorder = new SecretRecorder();
  const userAgent = 'Mozilla/5.0 PasswordSignInProbe/3.0';
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ embedded: true });
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('session lists the client', async () => {
    const first = await signIn(t, recorder, t.boot.adminEmail, t.boot.adminPassword);
    expect(first.status).toBe(200);
    // The bootstrap owner must replace the one-time password, and the sign-in under test is a
    // password sign-in with the new one.
    const newPassword = 'Embedded-Password-Beacon-58!';
    recorder.add(newPassword);
    const changed = await call(t, recorder, 'POST', '/api/v1/auth/password', {
      token: first.body.token as string,
      body: { currentPassword: t.boot.adminPassword, newPassword },
    });
    expect(changed.status).toBe(204);

    const login = await call(t, recorder, 'POST', '/api/v1/auth/login', {
      body: { email: t.boot.adminEmail, password: newPassword, sessionType: 'bearer' },
      headers: { 'user-agent': userAgent },
    });
    expect(login.status).toBe(200);
    expect(login.body.token).toEqual(expect.any(String));

    const list = await call(t, recorder, 'GET', '/api/v1/auth/sessions', {
      token: login.body.token as string,
    });
    expect(list.status).toBe(200);
    const sessions = list.body.sessions as { current: boolean; ip: string; userAgent: string }[];
    const current = sessions.find((session) => session.current);
    expect(current?.userAgent).toBe(userAgent);
    expect(current?.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });
});
