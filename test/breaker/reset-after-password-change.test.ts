import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SmtpCapture, tokenIn } from '../support/smtp-capture.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  auditRows,
  call,
  createUser,
  expectError,
  SecretRecorder,
  signIn,
} from '../application/identity-api.js';

const CHANGED_PASSWORD = 'Changed-Harbor-Pass-9!';
const ATTACKER_PASSWORD = 'Attacker-Chosen-Pass-7!';

// Someone who stole a reset mail must lose it once the owner changes the password.
describe('reset token after a password change', () => {
  let t: TestServer;
  let smtp: SmtpCapture;
  const recorder = new SecretRecorder();
  recorder.add(CHANGED_PASSWORD, ATTACKER_PASSWORD);

  beforeAll(async () => {
    smtp = new SmtpCapture();
    const port = await smtp.start();
    t = await startTestServer({
      env: { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(port), SMTP_TLS: 'none' },
    });
  });

  afterAll(async () => {
    await t?.stop();
    await smtp?.stop();
  });

  it('is void', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const requested = await call(t, recorder, 'POST', '/api/v1/auth/password/reset', {
      body: { email: user.email },
    });
    expect(requested.status).toBe(202);
    await expect.poll(() => smtp.messagesTo(user.email).length, { timeout: 10_000 }).toBe(1);
    const resetToken = tokenIn(smtp.messagesTo(user.email)[0]!, 'mw_reset_');
    recorder.add(resetToken);

    const session = (await signIn(t, recorder, user.email, user.password)).body.token as string;
    const change = await call(t, recorder, 'POST', '/api/v1/auth/password', {
      token: session,
      body: { currentPassword: user.password, newPassword: CHANGED_PASSWORD },
    });
    expect(change.status).toBe(204);

    const reset = await call(t, recorder, 'POST', '/api/v1/auth/password/reset/confirm', {
      body: { token: resetToken, newPassword: ATTACKER_PASSWORD },
    });
    expectError(reset, 400, 'validation_failed');
    expect((await signIn(t, recorder, user.email, CHANGED_PASSWORD)).status).toBe(200);
    const changed = (await auditRows(t, 'user.password_changed')).filter(
      (row) => row.actor_id === user.id,
    );
    expect(changed.map((row) => row.metadata.resetTokensVoided)).toEqual([1]);
  });
});
