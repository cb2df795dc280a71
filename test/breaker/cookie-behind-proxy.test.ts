import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';
import { call, createUser, SecretRecorder, signIn } from '../application/identity-api.js';

// With TRUST_PROXY_TLS=true a proxy in front ends TLS and may forward plain HTTP without
// X-Forwarded-Proto, yet browsers reach the server over TLS only.
describe('session cookie behind a TLS proxy', () => {
  let t: TestServer;
  const recorder = new SecretRecorder();

  beforeAll(async () => {
    t = await startTestServer({ env: { TRUST_PROXY_TLS: 'true' } });
  });

  afterAll(async () => {
    await t.stop();
  });

  it('is Secure with the __Host- prefix', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password, 'cookie');
    expect(login.status).toBe(200);
    const attributes = (login.setCookie ?? '').split('; ');
    expect(attributes[0]).toMatch(/^__Host-mw_session=mw_sess_/);
    expect(attributes).toContain('Secure');
    expect(attributes).toContain('HttpOnly');
    expect(attributes).toContain('SameSite=Strict');

    const cookie = attributes[0] as string;
    const value = cookie.slice(cookie.indexOf('=') + 1);
    expect((await call(t, recorder, 'GET', '/api/v1/auth/me', { cookie })).status).toBe(200);
    const plain = await call(t, recorder, 'GET', '/api/v1/auth/me', {
      cookie: `mw_session=${value}`,
    });
    expect(plain.status).toBe(401);
  });
});
