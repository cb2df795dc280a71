import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';
import { call, expectError, SecretRecorder } from './identity-api.js';

let t: TestServer;
const recorder = new SecretRecorder();

beforeAll(async () => {
  t = await startTestServer({ env: { RATE_LIMIT_AUTH_MAX: '3' } });
});

afterAll(async () => {
  await t?.stop();
});

describe('reset and invitation routes', () => {
  it('share the sign-in rate limit', async () => {
    const body = { email: 'someone@example.com' };
    for (let i = 0; i < 2; i++) {
      const allowed = await call(t, recorder, 'POST', '/api/v1/auth/password/reset', { body });
      expect(allowed.status).toBe(202);
    }
    const accepted = await call(t, recorder, 'POST', '/api/v1/auth/invitations/accept', {
      body: { token: 'mw_invite_unknown', password: 'whatever' },
    });
    expectError(accepted, 400, 'validation_failed');

    const limited = await call(t, recorder, 'POST', '/api/v1/auth/password/reset/confirm', {
      body: { token: 'mw_reset_unknown', newPassword: 'Correct-Horse-Battery-42' },
    });
    expectError(limited, 429, 'rate_limited');
    expect(limited.headers.get('retry-after')).not.toBeNull();
  });
});
