import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';
import { call, SecretRecorder } from '../application/identity-api.js';

const WRONG_PASSWORD = 'Wrong-Guess-Pa55word!';

// One IPv6 client usually controls a whole /64, so rotating the low 64 bits must not give it a
// fresh rate limit for every address.
describe('authentication rate limit over IPv6', () => {
  let t: TestServer;
  const recorder = new SecretRecorder();
  recorder.add(WRONG_PASSWORD);

  beforeAll(async () => {
    t = await startTestServer({
      env: {
        TRUSTED_PROXIES: '127.0.0.1',
        RATE_LIMIT_AUTH_MAX: '3',
        RATE_LIMIT_AUTH_WINDOW_SECONDS: '60',
      },
    });
  });

  afterAll(async () => {
    await t.stop();
  });

  // A new email each time, so that no account lockout answers before the rate limit.
  let attempts = 0;
  const attempt = (address: string) =>
    call(t, recorder, 'POST', '/api/v1/auth/login', {
      body: { email: `nobody-${(attempts += 1)}@example.com`, password: WRONG_PASSWORD },
      headers: { 'x-forwarded-for': address },
    });

  it('counts one /64 as one client', async () => {
    const statuses: number[] = [];
    for (let n = 1; n <= 5; n++) statuses.push((await attempt(`2001:db8:1:2::${n}`)).status);
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    expect(statuses.slice(3)).toEqual([429, 429]);
  });

  it('leaves another /64 alone', async () => {
    expect((await attempt('2001:db8:1:3::1')).status).toBe(401);
  });

  it('keeps IPv4 clients apart', async () => {
    expect((await attempt('198.51.100.7')).status).toBe(401);
    expect((await attempt('198.51.100.8')).status).toBe(401);
  });
});
