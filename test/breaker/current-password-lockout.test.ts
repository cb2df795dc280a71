import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  auditRows,
  call,
  createUser,
  expectError,
  SecretRecorder,
  signIn,
} from '../application/identity-api.js';

const WRONG_PASSWORD = 'Wrong-Guess-Pa55word!';
const NEW_PASSWORD = 'Fresh-Harbor-Lantern-42!';

// Someone holding a stolen session must not be able to guess the account's password without
// limit through the routes that ask for the current password.
describe('current password checks', () => {
  let t: TestServer;
  const recorder = new SecretRecorder();
  recorder.add(WRONG_PASSWORD, NEW_PASSWORD);

  beforeAll(async () => {
    t = await startTestServer({
      env: {
        LOGIN_LOCKOUT_ACCOUNT_FAILURES: '3',
        LOGIN_LOCKOUT_IP_FAILURES: '1000',
        LOGIN_LOCKOUT_BASE_MS: '60000',
      },
    });
  });

  afterAll(async () => {
    await t.stop();
  });

  it('count towards the account lockout', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const token = (await signIn(t, recorder, user.email, user.password)).body.token as string;
    const changePassword = (currentPassword: string) =>
      call(t, recorder, 'POST', '/api/v1/auth/password', {
        token,
        body: { currentPassword, newPassword: NEW_PASSWORD },
      });
    const removeTotp = (currentPassword: string) =>
      call(t, recorder, 'DELETE', '/api/v1/auth/mfa/totp', { token, body: { currentPassword } });

    expectError(await changePassword(`${WRONG_PASSWORD}1`), 400, 'validation_failed');
    expectError(await removeTotp(`${WRONG_PASSWORD}2`), 400, 'validation_failed');
    expectError(await changePassword(`${WRONG_PASSWORD}3`), 400, 'validation_failed');

    // Locked now: even the right password is not checked, here or at sign-in.
    expectError(await changePassword(user.password), 429, 'rate_limited');
    expectError(await removeTotp(user.password), 429, 'rate_limited');
    expectError(await signIn(t, recorder, user.email, user.password), 429, 'rate_limited');

    const failures = (await auditRows(t, 'user.login_failed')).filter(
      (row) => row.actor_id === user.id,
    );
    const wrong = failures.filter((row) => row.metadata.reason === 'wrong_current_password');
    expect(wrong).toHaveLength(3);
    const locked = await auditRows(t, 'user.locked_out');
    expect(locked.some((row) => row.actor_id === user.id)).toBe(true);
  });

  it('right password still changes it', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const token = (await signIn(t, recorder, user.email, user.password)).body.token as string;
    const result = await call(t, recorder, 'POST', '/api/v1/auth/password', {
      token,
      body: { currentPassword: user.password, newPassword: NEW_PASSWORD },
    });
    expect(result.status).toBe(204);
    expect((await signIn(t, recorder, user.email, NEW_PASSWORD)).status).toBe(200);
  });
});
